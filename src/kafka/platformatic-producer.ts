import { Producer, type MessageToProduce, type ProducerOptions, type SASLOptions } from '@platformatic/kafka';
import type { Config } from '../config/index.js';
import type { OutgoingRecord, RecordProducer } from './batching-producer.js';
import { classifyPlatformaticKafkaError } from './kafka-errors.js';
import { keyHash } from './murmur2.js';
import type { MessageProducer, Outgoing } from './ordered-sender.js';

/**
 * Compression of produce requests. `none` by default: on a loopback or LAN link the bytes saved do
 * not pay for the CPU (docs/performance.md). lz4 and snappy come as WebAssembly with the client,
 * gzip from Node; zstd needs Node 22.15.
 */
export type ProduceCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface PlatformaticProducerOptions {
  /** Suffix of the configured client id, e.g. `producer` → `ragsync-producer`. */
  clientIdSuffix?: string;
  /**
   * Idempotent (the default): the client takes a producer id from Kafka and numbers the records of
   * every partition, so Kafka drops a batch it already appended when a retry sends it again; it
   * forces acks=all and one request in flight per broker. Not idempotent, records are still sent
   * with acks=all.
   */
  idempotent?: boolean;
  /** @defaultValue 'none' */
  compression?: ProduceCompression;
  /** @defaultValue 5000 */
  connectionTimeoutMs?: number;
  /** How long Kafka may take to acknowledge a request (acks=all) before the client gives up on it. @defaultValue 30000 */
  requestTimeoutMs?: number;
  /**
   * Retries of a failed request (a broker unreachable, a leader moving) within the client, with a
   * backoff from 300 ms doubling to 10 s (retryDelay): about a minute in all, as kafkajs' producers are bounded
   * (client.ts). The client's idempotent default is to retry forever. @defaultValue 10
   */
  retries?: number;
}

/** The config's SASL as @platformatic/kafka takes it (its mechanism names are upper case). */
function sasl(config: Config['kafka']): SASLOptions | undefined {
  if (!config.sasl) return undefined;
  const { mechanism, username, password } = config.sasl;
  const names = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;
  return { mechanism: names[mechanism], username, password };
}

/**
 * Where a record goes: the Java client's and kafkajs' default partitioner (murmur2 of the key bytes,
 * `& 0x7fffffff`); the client takes it modulo the topic's partition count. @platformatic/kafka's
 * own default (`>>> 0` instead of the mask) puts a key whose hash is negative elsewhere, which
 * would break compacted topics written by other clients and consumers that rely on co-partitioning.
 */
export function javaCompatiblePartitioner(_message: unknown, key: Buffer | undefined): number {
  return key === undefined ? 0 : keyHash(key);
}

/**
 * The wait before the client's next attempt: from 300 ms doubling to 10 s; 200 ms while Kafka does
 * not know a topic (it may just have been created), so a topic that does not exist is reported as
 * missing after about two seconds rather than waited for until the caller's deadline.
 */
function retryDelay(_client: unknown, _operation: string, attempt: number, _retries: number, error: Error): number {
  const unknownTopic = (error as { findBy?: (property: string, value: unknown) => unknown }).findBy?.('apiId', 'UNKNOWN_TOPIC_OR_PARTITION');
  if (unknownTopic) return 200;
  return Math.min(300 * 2 ** (attempt - 1), 10_000);
}

/** The client options from the config: brokers, TLS, SASL; credentials never reach a log line. */
export function platformaticProducerOptions(config: Pick<Config, 'kafka'>, options: PlatformaticProducerOptions = {}): ProducerOptions<Buffer, Buffer, Buffer, Buffer> {
  const retries = options.retries ?? 10;
  const auth = sasl(config.kafka);
  return {
    clientId: options.clientIdSuffix ? `${config.kafka.clientId}-${options.clientIdSuffix}` : config.kafka.clientId,
    bootstrapBrokers: config.kafka.brokers,
    ...(config.kafka.ssl ? { tls: {} } : {}),
    ...(auth ? { sasl: auth } : {}),
    connectTimeout: options.connectionTimeoutMs ?? 5_000,
    // `timeout` is the produce request's acknowledgement timeout; `requestTimeout` how long the
    // client waits for any answer, a little longer so Kafka's own timeout answers first.
    timeout: options.requestTimeoutMs ?? 30_000,
    requestTimeout: (options.requestTimeoutMs ?? 30_000) + 5_000,
    retries,
    retryDelay,
    idempotent: options.idempotent ?? true,
    acks: -1,
    compression: options.compression ?? 'none',
    partitioner: javaCompatiblePartitioner,
    autocreateTopics: false,
  };
}

/** Header names are few; one buffer each for the life of the process. */
const headerNames = new Map<string, Buffer>();
function headerName(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (headerNames.size < 1000) headerNames.set(name, bytes);
  }
  return bytes;
}

/** Bytes of a key or header value given as text or bytes. */
const bytesOf = (value: string | Buffer): Buffer => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value);

/** The records as the client takes them: keys and header texts as UTF-8 bytes (it writes bytes only). */
function toMessages(records: readonly OutgoingRecord[]): Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>> {
  const messages = new Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const headers = new Map<Buffer, Buffer>();
    for (const name of Object.keys(record.headers)) headers.set(headerName(name), bytesOf(record.headers[name]!));
    // A null value is written as Kafka's null: a tombstone.
    messages[i] = { topic: record.topic, key: bytesOf(record.key), value: record.value as Buffer, headers };
  }
  return messages;
}

/**
 * A RecordProducer over @platformatic/kafka (a pure JavaScript client, with WebAssembly CRC-32C
 * and compression): it builds a produce request with a fraction of kafkajs' allocations and CPU.
 * Records go where kafkajs' DefaultPartitioner puts them (javaCompatiblePartitioner); every send
 * is acks=all. Failures are thrown classified (classifyPlatformaticKafkaError). One instance is
 * one producer id: BatchingProducer replaces it after a failed request, as it does a kafkajs one.
 */
export class PlatformaticRecordProducer implements RecordProducer {
  private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  private readonly idempotent: boolean;

  constructor(config: Pick<Config, 'kafka'>, options: PlatformaticProducerOptions = {}) {
    this.idempotent = options.idempotent ?? true;
    this.producer = new Producer(platformaticProducerOptions(config, options));
  }

  /** Reaches the cluster: takes a producer id when idempotent, otherwise connects to every broker. */
  async connect(): Promise<void> {
    try {
      if (this.idempotent) await this.producer.initIdempotentProducer({});
      else await this.producer.connectToBrokers(null);
    } catch (error) {
      throw classifyPlatformaticKafkaError(error);
    }
  }

  async sendRecords(records: OutgoingRecord[]): Promise<void> {
    if (records.length > 0) await this.produce(toMessages(records));
  }

  /** One acknowledged send; a failure thrown classified. */
  protected async produce(messages: Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>>): Promise<void> {
    try {
      await this.producer.send({ messages });
    } catch (error) {
      throw classifyPlatformaticKafkaError(error);
    }
  }

  /** Closes the connections; a retry under way ends with it. */
  async disconnect(): Promise<void> {
    await this.producer.close(true);
  }
}

/**
 * A stage's outputs as the client takes them: keys and header values as bytes, a missing key as
 * none (partition 0, as javaCompatiblePartitioner says) and a null value as Kafka's null (a
 * tombstone). A header given several values keeps them all, in order.
 */
export function outgoingToMessages(messages: readonly Outgoing[]): Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>> {
  const out = new Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    const headers = new Map<Buffer, Buffer>();
    if (message.headers) {
      for (const name of Object.keys(message.headers)) {
        const value = message.headers[name];
        if (value === undefined) continue;
        // Map keys are compared by identity: each value of a repeated header is its own entry.
        if (Array.isArray(value)) for (const each of value) headers.set(Buffer.from(name, 'utf8'), bytesOf(each));
        else headers.set(headerName(name), bytesOf(value));
      }
    }
    out[i] = {
      topic: message.topic,
      ...(message.key === null || message.key === undefined ? {} : { key: bytesOf(message.key) }),
      value: (message.value === undefined || message.value === null ? null : bytesOf(message.value)) as Buffer,
      headers,
    };
  }
  return out;
}

/**
 * A MessageProducer over @platformatic/kafka: what OrderedSender sends a stage's outputs with
 * (it builds a produce request with about half of kafkajs' CPU, docs/performance.md). One
 * instance is one producer id; OrderedSender's owner replaces it after a failed send.
 */
export class PlatformaticMessageProducer extends PlatformaticRecordProducer implements MessageProducer {
  async send(messages: Outgoing[]): Promise<void> {
    if (messages.length > 0) await this.produce(outgoingToMessages(messages));
  }
}

export function createPlatformaticProducer(config: Pick<Config, 'kafka'>, options: PlatformaticProducerOptions = {}): RecordProducer {
  return new PlatformaticRecordProducer(config, options);
}
