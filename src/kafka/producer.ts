import type { Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { ChangeMessage, ChangeSink } from '../core/changes.js';
import { CHANGE_TYPES } from '../core/entities.js';
import { PermanentError } from '../core/errors.js';
import { HEADERS } from '../core/records.js';
import type { OutputRecord } from '../core/stage.js';
import { changeTopicName } from '../schemas/catalogue.js';
import { BatchingProducer, RECORD_BATCH_OVERHEAD, recordBytes, type BatchingOptions, type OutgoingRecord } from './batching-producer.js';
import { createIdempotentProducer } from './client.js';
import { RegistryClient } from './registry.js';
import type { RecordCodec } from './codec.js';
import { RegistrySerde } from './serde.js';

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

const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The path of the first string in `value` (map keys included) that holds a lone UTF-16 surrogate.
 * Such a string has no UTF-8 encoding: written anyway it becomes bytes strict decoders refuse.
 */
export function illFormedTextPath(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path : undefined;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = illFormedTextPath(item, path ? `${path}.${i}` : String(i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [name, item] of Object.entries(value)) {
    const at = path ? `${path}.${name}` : name;
    if (LONE_SURROGATE.test(name)) return at;
    const found = illFormedTextPath(item, at);
    if (found !== undefined) return found;
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
  for (const [index, output] of outputs.entries()) {
    const topic = `${prefix}${output.topic}`;
    const where = `record ${index} (${output.topic}, key ${output.key.length > 120 ? `${output.key.slice(0, 120)}…` : output.key})`;
    const badText = output.value === null ? undefined : illFormedTextPath(output.value);
    if (badText !== undefined) {
      const reason = `${badText || 'the value'} contains a lone surrogate, which has no UTF-8 encoding`;
      refusals.push({ index, code: 'invalid_text', path: badText, reason, message: `${where}: ${reason}` });
      continue;
    }
    let value: Buffer | null = null;
    if (output.value !== null) {
      try {
        value = await codec.encode(topic, output.value);
      } catch (error) {
        if (!(error instanceof PermanentError)) throw error;
        refusals.push({ index, code: 'schema_mismatch', path: '', reason: error.message, message: `${where}: ${error.message}` });
        continue;
      }
    }
    const record: OutgoingRecord = {
      topic,
      key: output.key,
      value,
      headers: { ...output.headers, [HEADERS.sourceVersion]: output.sourceVersion.toString(), [HEADERS.occurredAt]: String(output.occurredAt) },
    };
    const bytes = RECORD_BATCH_OVERHEAD + recordBytes(record);
    if (bytes > maxRecordBytes) {
      const reason = `too large: the encoded record takes ${bytes} bytes with its key and headers, the topic's max.message.bytes is ${maxRecordBytes} (topics.maxMessageBytes)`;
      refusals.push({ index, code: 'record_too_large', path: '', reason, message: `${where}: ${reason}` });
      continue;
    }
    encoded.push(record);
  }
  if (refusals.length > 0) throw new RecordsRefusedError(refusals);
  return encoded;
}

/**
 * Encodes and produces output records of any ragsync topic (logical name + prefix) and resolves
 * once Kafka acknowledged all of them. Rejections: RecordsRefusedError (a PermanentError: a record
 * does not match its schema, holds invalid text or is too large; nothing sent), RetryableError
 * (`kafka_ack_timeout`, registry or Kafka unavailable), SystemError (missing topic, refused
 * credentials, incompatible schema).
 */
export async function produceRecords(
  sender: BatchingProducer,
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
}

/**
 * The ChangeSink of every connector (src/core/changes.ts): change messages → `changes.<type>`,
 * through the idempotent producer. No I/O in the constructor; the first publish (or `prepare`)
 * registers the change schemas (FULL_TRANSITIVE) and connects. A call is all or nothing up to
 * Kafka: every record is checked against the topics' `max.message.bytes` (config
 * `topics.maxMessageBytes`) before any is sent.
 */
export class KafkaChangeSink implements ChangeSink {
  private readonly sender: BatchingProducer;
  private readonly codec: RecordCodec;
  private ready: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly config: Pick<Config, 'kafka' | 'registry' | 'topics'>,
    options: ChangeSinkOptions = {},
  ) {
    this.sender = new BatchingProducer(() => createIdempotentProducer(kafka), { maxRequestBytes: config.topics.maxMessageBytes, ...options });
    this.codec = options.codec ?? new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix });
  }

  async publish(messages: ChangeMessage[], options: { timeoutMs?: number } = {}): Promise<void> {
    if (messages.length === 0) return;
    const timeoutMs = options.timeoutMs ?? this.config.kafka.ackTimeoutMs;
    await this.prepare();
    const outputs = messages.map(
      (m): OutputRecord => ({
        topic: changeTopicName(m.type),
        key: m.key,
        value: m.value === null ? null : { source_version: m.sourceVersion, occurred_at: m.occurredAt, ...m.value },
        sourceVersion: m.sourceVersion,
        occurredAt: m.occurredAt,
        ...(m.headers ? { headers: m.headers } : {}),
      }),
    );
    await produceRecords(this.sender, this.codec, outputs, { prefix: this.config.topics.prefix, timeoutMs, maxRecordBytes: this.config.topics.maxMessageBytes });
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
