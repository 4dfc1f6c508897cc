import type { Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { ChangeMessage, ChangeSink } from '../core/changes.js';
import { CHANGE_TYPES } from '../core/entities.js';
import { PermanentError } from '../core/errors.js';
import { HEADERS } from '../core/records.js';
import type { OutputRecord } from '../core/stage.js';
import { changeTopicName } from '../schemas/catalogue.js';
import { BatchingProducer, RECORD_BATCH_OVERHEAD, recordBytes, type BatchingOptions, type OutgoingRecord, type RecordSender } from './batching-producer.js';
import { createIdempotentProducer } from './client.js';
import { ProducerThread, packRecords, unpackRecords, type PackedRecords } from './producer-thread.js';
import { RegistryClient } from './registry.js';
import type { RecordCodec } from './codec.js';
import { mayHoldLoneSurrogate, RegistrySerde } from './serde.js';

/** Why one record of a call was refused before anything of the call was sent. */
export interface RecordRefusal {
  /** Index of the record in the call. */
  index: number;
  code: 'record_too_large' | 'schema_mismatch' | 'invalid_text';
  /** The value field concerned, dotted; empty for the record as a whole. */
  path: string;
  /** What is wrong, without naming the record. */
  reason: string;
  /** The reason with the record's index, topic and key. */
  message: string;
}

/**
 * Some records of a call cannot be written; nothing of the call was sent. `refusals` names each,
 * so a caller can leave them out and publish the rest (src/producers/publish-units.ts).
 */
export class RecordsRefusedError extends PermanentError {
  constructor(readonly refusals: RecordRefusal[]) {
    const first = refusals[0]!;
    super(refusals.map((r) => r.message).join('; '), { code: refusals.every((r) => r.code === first.code) ? first.code : 'records_refused' });
  }
}

/** The refusals of a failed publish, or undefined when it failed for another reason. */
export function recordRefusalsOf(error: unknown): RecordRefusal[] | undefined {
  return error instanceof RecordsRefusedError ? error.refusals : undefined;
}

/**
 * `String.prototype.isWellFormed` (not in the ES2023 lib types): true when a string holds no lone
 * surrogate; it answers at once for text V8 stores one byte per character.
 */
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * The path of the first string in `value` (map keys included) that holds a lone UTF-16 surrogate.
 * Such a string has no UTF-8 encoding: written anyway it becomes bytes strict decoders refuse.
 */
export function illFormedTextPath(value: unknown, path = ''): string | undefined {
  const found = illFormedText(value);
  if (found === undefined) return undefined;
  const parts = path === '' ? found.reverse() : [path, ...found.reverse()];
  return parts.join('.');
}

/**
 * The path of the first ill-formed string as its parts, innermost first (empty for `value`
 * itself), or undefined. Every record is walked before it is sent, so the walk allocates nothing
 * until it finds one: paths are put together on the way back out.
 */
function illFormedText(value: unknown): string[] | undefined {
  if (typeof value === 'string') return isWellFormed.call(value) ? undefined : [];
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedText(value[i]);
      if (found !== undefined) {
        found.push(String(i));
        return found;
      }
    }
    return undefined;
  }
  const object = value as Record<string, unknown>;
  for (const name of Object.keys(object)) {
    if (!isWellFormed.call(name)) return [name];
    const found = illFormedText(object[name]);
    if (found !== undefined) {
      found.push(name);
      return found;
    }
  }
  return undefined;
}

/**
 * Encodes output records (logical topic names) into Kafka records and checks each before anything
 * is sent: its value matches the topic's schema, its text is valid Unicode, and the record fits the
 * topic's `max.message.bytes` (`maxRecordBytes`, with its key, headers and the batch header). Every
 * refused record is named in one RecordsRefusedError; a registry failure throws as it is. Keys are
 * UTF-8 strings; `source_version` and `occurred_at` travel as headers on every record, which is what
 * a tombstone (null value) needs.
 */
export async function encodeRecords(codec: RecordCodec, prefix: string, outputs: readonly OutputRecord[], maxRecordBytes = Infinity): Promise<OutgoingRecord[]> {
  const encoded: OutgoingRecord[] = [];
  const refusals: RecordRefusal[] = [];
  const serde = codec instanceof RegistrySerde ? codec : undefined;
  // One full name per logical topic: a fresh concatenation per record would be hashed anew at every lookup.
  const topics = new Map<string, string>();
  for (let index = 0; index < outputs.length; index++) {
    const output = outputs[index]!;
    let topic = topics.get(output.topic);
    if (topic === undefined) {
      topic = `${prefix}${output.topic}`;
      topics.set(output.topic, topic);
    }
    let value: Buffer | null = null;
    if (output.value !== null) {
      // A RegistrySerde's bytes say whether the value may hold a lone surrogate (mayHoldLoneSurrogate):
      // only then is it walked. A value of any other codec is walked before it is encoded.
      const badText = serde === undefined ? illFormedTextPath(output.value) : undefined;
      if (badText !== undefined) {
        refusals.push(textRefusal(index, output, badText));
        continue;
      }
      try {
        value = (serde === undefined ? undefined : serde.encodeRegistered(topic, output.value)) ?? (await codec.encode(topic, output.value));
      } catch (error) {
        if (!(error instanceof PermanentError)) throw error;
        // A lone surrogate is named before the schema: it is what a sender has to fix first.
        const bad = serde === undefined ? undefined : illFormedTextPath(output.value);
        refusals.push(bad === undefined ? refusal(index, output, 'schema_mismatch', '', error.message) : textRefusal(index, output, bad));
        continue;
      }
      if (serde !== undefined && mayHoldLoneSurrogate(value)) {
        const bad = illFormedTextPath(output.value);
        if (bad !== undefined) {
          refusals.push(textRefusal(index, output, bad));
          continue;
        }
      }
    }
    const record: OutgoingRecord = { topic, key: output.key, value, headers: headersOf(output) };
    const bytes = RECORD_BATCH_OVERHEAD + recordBytes(record);
    if (bytes > maxRecordBytes) {
      const reason = `too large: the encoded record takes ${bytes} bytes with its key and headers, the topic's max.message.bytes is ${maxRecordBytes} (topics.maxMessageBytes)`;
      refusals.push(refusal(index, output, 'record_too_large', '', reason));
      continue;
    }
    encoded.push(record);
  }
  if (refusals.length > 0) throw new RecordsRefusedError(refusals);
  return encoded;
}

/** Why record `index` is refused, for a RecordsRefusedError. */
function refusal(index: number, output: OutputRecord, code: RecordRefusal['code'], path: string, reason: string): RecordRefusal {
  const where = `record ${index} (${output.topic}, key ${output.key.length > 120 ? `${output.key.slice(0, 120)}…` : output.key})`;
  return { index, code, path, reason, message: `${where}: ${reason}` };
}

/**
 * The record's headers: its own with `source_version` and `occurred_at` set from the record. Headers
 * that already say both (every connector's change messages do, one object for all the records of an
 * item) are used as they are rather than copied for every record.
 */
function headersOf(output: OutputRecord): Record<string, string> {
  const version = output.sourceVersion.toString();
  const at = String(output.occurredAt);
  const own = output.headers;
  if (own !== undefined && own[HEADERS.sourceVersion] === version && own[HEADERS.occurredAt] === at) return own;
  return { ...own, [HEADERS.sourceVersion]: version, [HEADERS.occurredAt]: at };
}

/** Record `index` holds a lone surrogate at `path`. */
function textRefusal(index: number, output: OutputRecord, path: string): RecordRefusal {
  return refusal(index, output, 'invalid_text', path, `${path || 'the value'} contains a lone surrogate, which has no UTF-8 encoding`);
}

/**
 * Encodes and produces output records of any ragsync topic (logical name + prefix) and resolves
 * once Kafka acknowledged all of them. Rejections: RecordsRefusedError (a PermanentError: a record
 * does not match its schema, holds invalid text or is too large; nothing sent), RetryableError
 * (`kafka_ack_timeout`, registry or Kafka unavailable), SystemError (missing topic, refused
 * credentials, incompatible schema).
 */
export async function produceRecords(
  sender: RecordSender,
  codec: RecordCodec,
  outputs: readonly OutputRecord[],
  options: { prefix: string; timeoutMs: number; maxRecordBytes?: number },
): Promise<void> {
  const started = Date.now();
  const records = await encodeRecords(codec, options.prefix, outputs, options.maxRecordBytes);
  await sender.send(records, Math.max(1, options.timeoutMs - (Date.now() - started)));
}

export interface ChangeSinkOptions extends BatchingOptions {
  /** Defaults to a serde over the configured registry. */
  codec?: RecordCodec;
  /**
   * Runs the producer on a thread of its own (ProducerThread), for bulk publishing: the calling
   * thread then only checks and encodes records, and the two use two cores. The thread builds its
   * own client from `config.kafka` (with this client id suffix), so the `kafka` given to the sink
   * is not used.
   */
  producerThread?: { clientIdSuffix?: string };
}

/**
 * The value with `source_version` and `occurred_at` filled from the message where it has none.
 * Connectors build values that carry both (the change schemas require them): those are used as
 * they are rather than copied field by field for every record.
 */
function withVersion(m: ChangeMessage): Record<string, unknown> {
  const value = m.value!;
  if (value.source_version !== undefined && value.occurred_at !== undefined) return value;
  return { source_version: m.sourceVersion, occurred_at: m.occurredAt, ...value };
}

/**
 * Change messages checked and encoded by KafkaChangeSink.encode, ready for `sendEncoded`: the
 * records, or with a producer thread the records packed for it (PackedRecords), so that a caller
 * encoding ahead keeps two buffers per part rather than an object per record.
 */
export type EncodedChanges = { readonly count: number } & ({ readonly records: OutgoingRecord[] } | { readonly packed: PackedRecords });

/**
 * The ChangeSink of every connector (src/core/changes.ts): change messages → `changes.<type>`,
 * through the idempotent producer. No I/O in the constructor; the first publish (or `prepare`)
 * registers the change schemas (FULL_TRANSITIVE) and connects. A call is all or nothing up to
 * Kafka: every record is checked against the topics' `max.message.bytes` (config
 * `topics.maxMessageBytes`) before any is sent. `encode` and `sendEncoded` are the two halves of
 * `publish`, for a caller that checks and encodes the next call while the previous one is sent.
 */
export class KafkaChangeSink implements ChangeSink {
  private readonly sender: RecordSender;
  private readonly codec: RecordCodec;
  private ready: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly config: Pick<Config, 'kafka' | 'registry' | 'topics'>,
    options: ChangeSinkOptions = {},
  ) {
    const { codec, producerThread, ...batching } = options;
    const sending = { maxRequestBytes: config.topics.maxMessageBytes, ...batching };
    this.sender = producerThread ? new ProducerThread(config, { ...sending, ...producerThread }) : new BatchingProducer(() => createIdempotentProducer(kafka), sending);
    this.codec = codec ?? new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix });
  }

  async publish(messages: ChangeMessage[], options: { timeoutMs?: number } = {}): Promise<void> {
    if (messages.length === 0) return;
    const timeoutMs = options.timeoutMs ?? this.config.kafka.ackTimeoutMs;
    await this.prepare();
    await produceRecords(this.sender, this.codec, this.outputsOf(messages), { prefix: this.config.topics.prefix, timeoutMs, maxRecordBytes: this.config.topics.maxMessageBytes });
  }

  /**
   * The first half of `publish`: checks and encodes every record, sending nothing. Throws what
   * `publish` throws before sending (a RecordsRefusedError naming every refused record, a
   * registry failure).
   */
  async encode(messages: ChangeMessage[]): Promise<EncodedChanges> {
    await this.prepare();
    const records = await encodeRecords(this.codec, this.config.topics.prefix, this.outputsOf(messages), this.config.topics.maxMessageBytes);
    return this.sender instanceof ProducerThread ? { count: records.length, packed: packRecords(records) } : { count: records.length, records };
  }

  /**
   * The second half of `publish`: sends the records of `parts` (from `encode`, in their order) as
   * one call, and resolves once Kafka acknowledged every one, within `timeoutMs` of the call. A
   * part can be sent once.
   */
  async sendEncoded(parts: readonly EncodedChanges[], options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.config.kafka.ackTimeoutMs;
    const filled = parts.filter((part) => part.count > 0);
    if (filled.length === 0) return;
    if (this.sender instanceof ProducerThread) {
      await this.sender.sendPacked(
        filled.map((part) => ('packed' in part ? part.packed : packRecords(part.records))),
        timeoutMs,
      );
    } else {
      await this.sender.send(
        filled.flatMap((part) => ('packed' in part ? unpackRecords(part.packed) : part.records)),
        timeoutMs,
      );
    }
  }

  private outputsOf(messages: ChangeMessage[]): OutputRecord[] {
    return messages.map(
      (m): OutputRecord => ({
        topic: changeTopicName(m.type),
        key: m.key,
        value: m.value === null ? null : withVersion(m),
        sourceVersion: m.sourceVersion,
        occurredAt: m.occurredAt,
        ...(m.headers ? { headers: m.headers } : {}),
      }),
    );
  }

  /**
   * Registers the change schemas and connects the producer now, without waiting for either: a bulk
   * publisher calls it before it reads its input, so its first call finds both done. A failure is
   * not reported here; the first call meets it (and retries) as it would have.
   */
  warmUp(): void {
    this.prepare().catch(() => undefined);
    this.sender.warmUp?.(this.config.kafka.ackTimeoutMs);
  }

  /**
   * Registers every change schema once (a failure is retried by the next call); a server calls it
   * at start so its first request does not wait for the registry.
   */
  prepare(): Promise<void> {
    if (!(this.codec instanceof RegistrySerde)) return Promise.resolve();
    const serde = this.codec;
    this.ready ??= serde.registerAll(CHANGE_TYPES.map(changeTopicName)).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  async close(): Promise<void> {
    await this.sender.close(this.config.kafka.ackTimeoutMs);
  }
}
