import type { Kafka } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { ChangeMessage, ChangeSink } from '../core/changes.js';
import { CHANGE_TYPES } from '../core/entities.js';
import { PermanentError } from '../core/errors.js';
import { HEADERS } from '../core/records.js';
import type { OutputRecord } from '../core/stage.js';
import { changeTopicName } from '../schemas/catalogue.js';
import { BatchingProducer, type BatchingOptions, type OutgoingRecord } from './batching-producer.js';
import { createIdempotentProducer } from './client.js';
import { RegistryClient } from './registry.js';
import type { RecordCodec } from './codec.js';
import { RegistrySerde } from './serde.js';

/**
 * Encodes output records (logical topic names) into Kafka records: every value first, so one bad
 * value fails the whole call with a PermanentError naming the record's index, topic, key and
 * fields, and nothing is sent. Keys are UTF-8 strings; `source_version` and `occurred_at` travel
 * as headers on every record, which is what a tombstone (null value) needs.
 */
export async function encodeRecords(codec: RecordCodec, prefix: string, outputs: readonly OutputRecord[]): Promise<OutgoingRecord[]> {
  const encoded: OutgoingRecord[] = [];
  for (const [index, output] of outputs.entries()) {
    const topic = `${prefix}${output.topic}`;
    let value: Buffer | null = null;
    if (output.value !== null) {
      try {
        value = await codec.encode(topic, output.value);
      } catch (error) {
        if (!(error instanceof PermanentError)) throw error;
        throw new PermanentError(`record ${index} (${output.topic}, key ${output.key}): ${error.message}`, { code: error.code, cause: error });
      }
    }
    encoded.push({
      topic,
      key: output.key,
      value,
      headers: { ...output.headers, [HEADERS.sourceVersion]: output.sourceVersion.toString(), [HEADERS.occurredAt]: String(output.occurredAt) },
    });
  }
  return encoded;
}

/**
 * Encodes and produces output records of any ragsync topic (logical name + prefix) and resolves
 * once Kafka acknowledged all of them. Rejections: PermanentError (a value does not match its
 * schema; nothing sent), RetryableError (`kafka_ack_timeout`, registry or Kafka unavailable),
 * SystemError (missing topic, refused credentials, incompatible schema).
 */
export async function produceRecords(
  sender: BatchingProducer,
  codec: RecordCodec,
  outputs: readonly OutputRecord[],
  options: { prefix: string; timeoutMs: number },
): Promise<void> {
  const started = Date.now();
  const records = await encodeRecords(codec, options.prefix, outputs);
  await sender.send(records, Math.max(1, options.timeoutMs - (Date.now() - started)));
}

export interface ChangeSinkOptions extends BatchingOptions {
  /** Defaults to a serde over the configured registry. */
  codec?: RecordCodec;
}

/**
 * The ChangeSink of every connector (src/core/changes.ts): change messages → `changes.<type>`,
 * through the idempotent producer. No I/O in the constructor; the first publish registers the
 * change schemas (FULL_TRANSITIVE) and connects.
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
    this.sender = new BatchingProducer(createIdempotentProducer(kafka), options);
    this.codec = options.codec ?? new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix });
  }

  async publish(messages: ChangeMessage[], options: { timeoutMs?: number } = {}): Promise<void> {
    if (messages.length === 0) return;
    const timeoutMs = options.timeoutMs ?? this.config.kafka.ackTimeoutMs;
    await this.start();
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
    await produceRecords(this.sender, this.codec, outputs, { prefix: this.config.topics.prefix, timeoutMs });
  }

  async close(): Promise<void> {
    await this.sender.close(this.config.kafka.ackTimeoutMs);
  }

  /** Registers every change schema once; a failure is retried by the next publish. */
  private start(): Promise<void> {
    if (!(this.codec instanceof RegistrySerde)) return Promise.resolve();
    const serde = this.codec;
    this.ready ??= serde.registerAll(CHANGE_TYPES.map(changeTopicName)).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }
}
