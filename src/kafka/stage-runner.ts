import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { backoffDelay } from '../core/backoff.js';
import { classify, describeError, PermanentError, type ErrorClass } from '../core/errors.js';
import { HEADERS } from '../core/records.js';
import type { InputRecord, RecordResult, StageDefinition } from '../core/stage.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RecordCodec } from './codec.js';
import { DlqRateLimiter, dlqMessage, dlqTopic, headersToStrings, type FailedRecord } from './dlq.js';
import { createIdempotentProducer } from './client.js';

/**
 * Runs one stage in its own consumer group (docs/design.md §3). The runner owns everything Kafka:
 * consuming with `eachBatch` and in-order `resolveOffset`, decoding, calling the stage, producing
 * its outputs, committing only after they are acknowledged, and routing failures by class:
 *
 * - permanent (or undecodable): the record goes to `<group>.dlq` with headers saying why;
 * - system: the whole stage pauses and alerts; nothing goes to the DLQ; it probes again later;
 * - retryable: the partition pauses and retries in place with backoff, so an output topic is
 *   never reordered. Terminal stages may instead hand such records to `retryRoute` (the seam for
 *   delayed retry topics).
 *
 * The unresolved part of a batch is fetched again after a pause, because kafkajs fetches from the
 * last resolved offset. A raw Error never escapes the kafkajs handler: kafkajs would retry a plain
 * Error forever on the same offset and crash on a TypeError.
 */
export interface StageRunnerOptions {
  kafka: Kafka;
  codec: RecordCodec;
  logger: Logger;
  metrics: Metrics;
  topicPrefix: string;
  /** Prefix of the consumer group id; a new prefix is a fresh set of groups (a full replay). @defaultValue topicPrefix */
  groupPrefix?: string;
  /** Partitions processed at once. @defaultValue 4 */
  concurrency?: number;
  /** Records handed to the stage per call. @defaultValue 200 */
  maxRecordsPerCall?: number;
  sessionTimeoutMs?: number;
  /** Above the longest batch; kafkajs waits this long for members during a rebalance. */
  rebalanceTimeoutMs?: number;
  dlqRateCapPerMinute?: number;
  /** Largest value the output topics take (their `max.message.bytes`). */
  maxMessageBytes?: number;
  /** How long a stage stays paused after a system error before it probes again. @defaultValue 30_000 */
  systemPauseMs?: number;
  retryBackoff?: { initialMs?: number; maxMs?: number };
  /** Terminal stages: take a retryable failure off the partition (delayed retry topics). */
  retryRoute?: (failed: FailedRecord, error: unknown) => Message & { topic: string };
}

export type StageState = 'created' | 'running' | 'paused' | 'stopping' | 'stopped';

export interface StageHealth {
  stage: string;
  group: string;
  state: StageState;
  pausedPartitions: Array<{ topic: string; partition: number; reason: string; until: string }>;
  lastError?: { class: ErrorClass; message: string; at: string };
}

interface Outcome {
  message: KafkaMessage;
  result: RecordResult | { ok: false; error: unknown; undecodable: true };
}

export class StageRunner {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly dlqLimiter: DlqRateLimiter;
  private readonly attempts = new Map<string, number>();
  private readonly paused = new Map<string, { reason: string; until: number; timer: NodeJS.Timeout }>();
  private state: StageState = 'created';
  private lastError: StageHealth['lastError'];
  private readonly logicalTopic = new Map<string, string>();
  readonly groupId: string;

  constructor(
    readonly stage: StageDefinition,
    private readonly options: StageRunnerOptions,
  ) {
    this.groupId = `${options.groupPrefix ?? options.topicPrefix}${stage.group}`;
    for (const input of stage.inputs) this.logicalTopic.set(this.topic(input), input);
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 120_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.producer = createIdempotentProducer(options.kafka);
    this.dlqLimiter = new DlqRateLimiter(options.dlqRateCapPerMinute ?? 100);
  }

  private topic(logical: string): string {
    return `${this.options.topicPrefix}${logical}`;
  }

  private get log(): Logger {
    return this.options.logger;
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    for (const input of this.stage.inputs) {
      // A new group reads the compacted input from the start: that is what a full resync is.
      await this.consumer.subscribe({ topic: this.topic(input), fromBeginning: true });
    }
    this.state = 'running';
    await this.consumer.run({
      eachBatchAutoResolve: false,
      // Without an interval or threshold kafkajs commits only after a whole fetched batch; with it,
      // the commit after each processed slice goes out, so a crash repeats at most one slice.
      autoCommitInterval: 1000,
      partitionsConsumedConcurrently: this.options.concurrency ?? 4,
      eachBatch: async (payload) => {
        try {
          await this.handleBatch(payload);
        } catch (error) {
          // Only kafkajs' own errors (rebalance, disconnect) reach here; let kafkajs handle those,
          // never a raw Error.
          this.log.warn({ err: error, stage: this.stage.name }, 'batch interrupted');
          if ((error as { name?: string }).name?.startsWith('KafkaJS')) throw error;
        }
      },
    });
    this.log.info({ stage: this.stage.name, group: this.groupId, inputs: this.stage.inputs }, 'stage running');
  }

  /** Finishes in-flight work, commits resolved offsets, leaves the group. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    for (const { timer } of this.paused.values()) clearTimeout(timer);
    await this.consumer.disconnect();
    await this.producer.disconnect();
    this.state = 'stopped';
    this.log.info({ stage: this.stage.name }, 'stage stopped');
  }

  health(): StageHealth {
    return {
      stage: this.stage.name,
      group: this.groupId,
      state: this.paused.size > 0 && this.state === 'running' ? 'paused' : this.state,
      pausedPartitions: [...this.paused.entries()].map(([key, p]) => {
        const [topic, partition] = splitPartitionKey(key);
        return { topic, partition, reason: p.reason, until: new Date(p.until).toISOString() };
      }),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
    const started = performance.now();
    const max = this.options.maxRecordsPerCall ?? 200;
    const key = partitionKey(batch.topic, batch.partition);
    this.log.debug({ topic: batch.topic, partition: batch.partition, records: batch.messages.length, firstOffset: batch.firstOffset() }, 'batch');
    for (let i = 0; i < batch.messages.length; i += max) {
      if (!isRunning() || isStale()) return;
      const slice = batch.messages.slice(i, i + max);
      const outcomes = await this.process(batch.topic, batch.partition, slice, heartbeat, isStale);
      const { messages, resolved, stop } = this.route(batch.topic, batch.partition, outcomes);
      // A revoked or re-seeked partition belongs to someone else now: its outputs must not be
      // produced twice out of order.
      if (isStale()) return;
      if (messages.length > 0) await this.send(messages);
      for (const offset of resolved) resolveOffset(offset);
      this.options.metrics.records.inc({ stage: this.stage.name, outcome: 'ok' }, resolved.length);
      await commitOffsetsIfNecessary();
      await heartbeat();
      if (stop) {
        this.pause(payload, stop.error, stop.errorClass, stop.reason);
        return;
      }
      this.attempts.delete(key);
    }
    this.options.metrics.batchSeconds.observe({ stage: this.stage.name }, (performance.now() - started) / 1000);
  }

  private async process(topic: string, partition: number, slice: KafkaMessage[], heartbeat: () => Promise<void>, isStale: () => boolean): Promise<Outcome[]> {
    const decoded = await Promise.all(slice.map((message) => this.decode(topic, partition, message)));
    const records = decoded.filter((d): d is InputRecord => !(d instanceof Error));
    let results: RecordResult[];
    // Keep the membership alive however long the stage takes (a slow store, a cold model): kafkajs
    // only heartbeats between batches, and a member silent for a session timeout is thrown out
    // and its uncommitted work repeated.
    const beat = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
    try {
      results = records.length === 0 ? [] : await this.stage.process(records, { heartbeat, isStale });
      if (results.length !== records.length) {
        throw new PermanentError(`stage ${this.stage.name} returned ${results.length} results for ${records.length} records`, { code: 'stage_contract' });
      }
    } catch (error) {
      results = records.map(() => ({ ok: false as const, error }));
    } finally {
      clearInterval(beat);
    }
    let next = 0;
    return slice.map((message, index) => {
      const d = decoded[index];
      if (d instanceof Error) return { message, result: { ok: false as const, error: d, undecodable: true as const } };
      return { message, result: results[next++]! };
    });
  }

  private async decode(topic: string, partition: number, message: KafkaMessage): Promise<InputRecord | Error> {
    try {
      const headers = headersToStrings(message.headers);
      const key = message.key?.toString('utf8');
      if (!key) throw new PermanentError('record has no key', { code: 'missing_key' });
      const value = message.value === null ? null : await this.options.codec.decode(topic, message.value);
      const fromValue = value as { source_version?: bigint; occurred_at?: number } | null;
      const versionText = fromValue?.source_version?.toString() ?? headers[HEADERS.sourceVersion];
      if (versionText === undefined || !/^-?\d+$/.test(versionText)) {
        throw new PermanentError(`${value === null ? 'tombstone' : 'record'} has no source_version (header ${HEADERS.sourceVersion})`, { code: 'missing_version' });
      }
      const occurredAt = fromValue?.occurred_at ?? Number(headers[HEADERS.occurredAt] ?? message.timestamp);
      return {
        topic: this.logicalTopic.get(topic) ?? topic,
        partition,
        offset: message.offset,
        key,
        value,
        headers,
        sourceVersion: BigInt(versionText),
        occurredAt: Number.isFinite(occurredAt) ? Number(occurredAt) : Number(message.timestamp),
      };
    } catch (error) {
      return error instanceof Error ? error : new PermanentError(describeError(error), { code: 'undecodable' });
    }
  }

  /** Walks outcomes in offset order; stops at the first failure that must not be skipped. */
  private route(topic: string, partition: number, outcomes: Outcome[]) {
    const messages: Array<Message & { topic: string }> = [];
    const resolved: string[] = [];
    for (const { message, result } of outcomes) {
      const failed = (): FailedRecord => ({ topic, partition, offset: message.offset, key: message.key, value: message.value, headers: headersToStrings(message.headers) });
      if (result.ok) {
        messages.push(...result.outputs.map((o) => ({ topic: this.topic(o.topic), ...this.pending(o) })));
        resolved.push(message.offset);
        continue;
      }
      const errorClass = classify(result.error);
      if (errorClass === 'permanent') {
        if (!this.dlqLimiter.tryAcquire()) {
          return { messages, resolved, stop: { error: result.error, errorClass: 'system' as const, reason: 'dlq-rate' } };
        }
        messages.push({ topic: dlqTopic(this.options.topicPrefix, this.stage.group), ...dlqMessage(this.stage.name, failed(), result.error, errorClass) });
        this.options.metrics.dlq.inc({ stage: this.stage.name, error_class: errorClass });
        this.log.warn({ stage: this.stage.name, key: message.key?.toString(), offset: message.offset, err: describeError(result.error) }, 'record sent to the DLQ');
        resolved.push(message.offset);
        continue;
      }
      if (errorClass === 'retryable' && this.stage.terminal && this.options.retryRoute) {
        messages.push(this.options.retryRoute(failed(), result.error));
        resolved.push(message.offset);
        continue;
      }
      return { messages, resolved, stop: { error: result.error, errorClass, reason: errorClass } };
    }
    return { messages, resolved, stop: undefined };
  }

  /** Outputs still carry their values as objects; `send` encodes them. */
  private pending(o: { key: string; value: unknown; sourceVersion: bigint; occurredAt: number; headers?: Record<string, string> }): Message & { pendingValue: unknown } {
    return {
      key: o.key,
      value: null,
      pendingValue: o.value,
      headers: { ...o.headers, [HEADERS.sourceVersion]: o.sourceVersion.toString(), [HEADERS.occurredAt]: String(o.occurredAt) },
    };
  }

  private async send(messages: Array<Message & { topic: string; pendingValue?: unknown }>): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    const limit = this.options.maxMessageBytes ?? 4 * 1024 * 1024;
    for (const m of messages) {
      const { pendingValue, topic, ...message } = m;
      let out: Message = message;
      if (pendingValue !== undefined && pendingValue !== null) {
        const value = await this.options.codec.encode(topic, pendingValue);
        if (value.length > limit - 1024) {
          // Too large for its topic: the DLQ gets the facts, not the bytes (docs/design.md §3).
          const error = new PermanentError(`record of ${value.length} bytes exceeds ${topic} max.message.bytes ${limit}`, { code: 'record_too_large' });
          const dlq = dlqTopic(this.options.topicPrefix, this.stage.group);
          const failed = { topic, partition: -1, offset: '-1', key: message.key as Buffer | null, value: null, headers: (message.headers ?? {}) as Record<string, string> };
          byTopic.set(dlq, [...(byTopic.get(dlq) ?? []), dlqMessage(this.stage.name, failed, error, 'permanent', { headersOnly: true })]);
          this.options.metrics.dlq.inc({ stage: this.stage.name, error_class: 'permanent' });
          this.log.warn({ stage: this.stage.name, key: String(message.key), bytes: value.length }, 'output too large, sent to the DLQ as headers only');
          continue;
        }
        out = { ...message, value };
      }
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), out]);
    }
    await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic.entries()].map(([topic, msgs]) => ({ topic, messages: msgs })) });
  }

  private pause(payload: EachBatchPayload, error: unknown, errorClass: ErrorClass, reason: string): void {
    const { batch } = payload;
    const key = partitionKey(batch.topic, batch.partition);
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const delay =
      errorClass === 'system'
        ? this.options.systemPauseMs ?? 30_000
        : backoffDelay(attempt - 1, { initialMs: this.options.retryBackoff?.initialMs ?? 1000, maxMs: this.options.retryBackoff?.maxMs ?? 60_000 });
    this.lastError = { class: errorClass, message: describeError(error), at: new Date().toISOString() };
    // A system error is wrong for every record: pause every input of the stage, not just this one.
    const resumeOne = payload.pause();
    const resumeAll =
      errorClass === 'system'
        ? (() => {
            const topics = this.stage.inputs.map((t) => ({ topic: this.topic(t) }));
            this.consumer.pause(topics);
            return () => this.consumer.resume(topics);
          })()
        : undefined;
    this.options.metrics.paused.set({ stage: this.stage.name, reason }, 1);
    const level = errorClass === 'system' ? 'error' : 'warn';
    this.log[level]({ stage: this.stage.name, topic: batch.topic, partition: batch.partition, attempt, delayMs: delay, reason, err: describeError(error) }, errorClass === 'system' ? 'stage paused: system error (alert)' : 'partition paused: retrying in place');
    const previous = this.paused.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      this.paused.delete(key);
      this.options.metrics.paused.set({ stage: this.stage.name, reason }, 0);
      if (this.state !== 'running') return;
      resumeAll?.();
      resumeOne();
      this.log.info({ stage: this.stage.name, topic: batch.topic, partition: batch.partition }, 'resumed');
    }, delay);
    timer.unref();
    this.paused.set(key, { reason, until: Date.now() + delay, timer });
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function splitPartitionKey(key: string): [string, number] {
  const [topic, partition] = key.split('\u0000');
  return [topic!, Number(partition)];
}
