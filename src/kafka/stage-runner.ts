import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { classify, describeError, PermanentError, SystemError, type ErrorClass } from '../core/errors.js';
import { decideFailure, DEFAULT_FAILURE_POLICY, type FailureDecision, type FailurePolicy } from '../core/failure-policy.js';
import { HEADERS } from '../core/records.js';
import type { Assignment, InputRecord, OutputRecord, RecordResult, StageDefinition } from '../core/stage.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RecordCodec } from './codec.js';
import { coPartitionAssigner, PartitionNumberLocks } from './co-partition-assigner.js';
import { DlqRateLimiter, dlqMessage, dlqTopic, headersToStrings, type FailedRecord } from './dlq.js';
import { createIdempotentProducer } from './client.js';
import { classifyKafkaError } from './kafka-errors.js';
import { OrderedSender, type Outgoing } from './ordered-sender.js';

/**
 * Runs one stage in its own consumer group (docs/design.md §3). The runner owns everything Kafka:
 * consuming with `eachBatch` and in-order `resolveOffset`, decoding, calling the stage, encoding
 * and producing its outputs, committing after every slice once they are acknowledged, and carrying
 * out what {@link decideFailure} decides for each failed record:
 *
 * - permanent (undecodable, a value that does not fit its schema or its topic's size limit): the
 *   record goes to `<group>.dlq` with its input topic, partition and offset, and the partition goes on;
 * - system: every input of the stage pauses and alerts; nothing goes to the DLQ; it probes again later;
 * - retryable: the partition pauses and tries the record again in place with capped backoff that
 *   honours the target's Retry-After, so an output topic is never reordered; after the policy's
 *   attempt limit the record is dead-lettered. Terminal stages may instead hand such records to
 *   `retryRoute` (delayed retry topics).
 *
 * Encoding happens per record before anything of a slice is produced, so one record whose output
 * cannot be encoded fails alone. A failed produce sends nothing of the slice's offsets to the
 * commit, replaces the producer (its idempotent sequence state may be broken) and retries the
 * slice after a backoff. A raw Error never escapes the kafkajs handler: kafkajs would retry a plain
 * Error at once, forever, on the same offset.
 */
export interface StageRunnerOptions {
  kafka: Kafka;
  codec: RecordCodec;
  logger: Logger;
  metrics: Metrics;
  topicPrefix: string;
  /** Prefix of the consumer group id; a new prefix is a fresh set of groups (a full replay). @defaultValue topicPrefix */
  groupPrefix?: string;
  /** Partitions processed at once. @defaultValue every partition the member owns */
  concurrency?: number;
  /** Records handed to the stage per call. @defaultValue 500 */
  maxRecordsPerCall?: number;
  /** Slices of one partition whose outputs may wait for Kafka's acknowledgement while the next is processed. @defaultValue 2 */
  slicesInFlight?: number;
  /** kafkajs fetch limits: bytes per partition and per fetch, and how long the broker may wait for `fetchMinBytes`. */
  fetch?: { maxBytesPerPartition?: number; maxBytes?: number; minBytes?: number; maxWaitTimeInMs?: number };
  sessionTimeoutMs?: number;
  /** Above the longest batch; kafkajs waits this long for members during a rebalance. */
  rebalanceTimeoutMs?: number;
  dlqRateCapPerMinute?: number;
  /** Largest value the output topics take (their `max.message.bytes`). */
  maxMessageBytes?: number;
  /** How the stage's failures are handled; unset fields keep {@link DEFAULT_FAILURE_POLICY}. */
  failurePolicy?: Partial<FailurePolicy>;
  /** Shorthand for `failurePolicy.systemPauseMs`. */
  systemPauseMs?: number;
  /** Shorthand for `failurePolicy.backoff`. */
  retryBackoff?: { initialMs?: number; maxMs?: number };
  /** Terminal stages: take a retryable failure off the partition (delayed retry topics). */
  retryRoute?: (failed: FailedRecord, error: unknown) => Message & { topic: string };
}

export type StageState = 'created' | 'running' | 'paused' | 'stopping' | 'stopped' | 'crashed';

export interface StageHealth {
  stage: string;
  group: string;
  state: StageState;
  pausedPartitions: Array<{ topic: string; partition: number; reason: string; until: string }>;
  lastError?: { class: ErrorClass; message: string; at: string };
}

/** One input record after the stage and the encoder: its outputs ready to send, or why it failed. */
interface Outcome {
  message: KafkaMessage;
  result: { ok: true; messages: Outgoing[]; stale: boolean } | { ok: false; error: unknown };
}

/** Space a record needs beyond its value (key, headers, batch overhead) within `max.message.bytes`. */
const RECORD_OVERHEAD_BYTES = 16 * 1024;
/**
 * Workers kafkajs starts when no concurrency is configured: more than the partitions a member of
 * one stage owns (the store's three co-partitioned inputs of 6 partitions give 18 batches per fetch).
 */
const ALL_PARTITIONS = 64;
/** A produce request at most this large, so the record batch of one partition stays well within `max.message.bytes`. */
const MAX_REQUEST_BYTES = 1024 * 1024;

/** The outputs of one slice on their way to Kafka, and what to do once they are acknowledged. */
interface InFlightSlice {
  acknowledged: Promise<void>;
  plan: Plan;
  firstOffset: string;
}

type Plan = ReturnType<StageRunner['route']>;

/**
 * Commits offsets without holding up the slices: one commit request at a time, each with every
 * offset resolved and not yet committed at the moment it is sent (kafkajs' `uncommittedOffsets`),
 * so a commit never carries an older offset than one before it. Offsets are resolved only once
 * their outputs were acknowledged. A failed commit is left to the next one (or to kafkajs' commit
 * at the end of the batch): the records would only be processed again.
 */
class OffsetCommitter {
  private running = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  request(payload: Pick<EachBatchPayload, 'uncommittedOffsets' | 'commitOffsetsIfNecessary'>): void {
    if (this.running) return;
    this.running = true;
    void this.run(payload).finally(() => (this.running = false));
  }

  private async run(payload: Pick<EachBatchPayload, 'uncommittedOffsets' | 'commitOffsetsIfNecessary'>): Promise<void> {
    for (;;) {
      const offsets = payload.uncommittedOffsets();
      if (offsets.topics.length === 0) return;
      try {
        await payload.commitOffsetsIfNecessary(offsets);
      } catch (error) {
        this.onError(error);
        return;
      }
    }
  }
}

export class StageRunner {
  private readonly consumer: Consumer;
  private producer: Producer;
  private producerReady: Promise<void> | undefined;
  private readonly sender: OrderedSender;
  private readonly committer: OffsetCommitter;
  private readonly dlqLimiter: DlqRateLimiter;
  private readonly policy: FailurePolicy;
  /** Per partition: the offset of the record that last failed in place, and how often. */
  private readonly attempts = new Map<string, { offset: string; count: number }>();
  private readonly paused = new Map<string, { reason: string; until: number; timer: NodeJS.Timeout }>();
  private readonly locks = new PartitionNumberLocks();
  private state: StageState = 'created';
  private lastError: StageHealth['lastError'];
  private readonly logicalTopic = new Map<string, string>();
  private assignment: Assignment = {};
  private assigning: Promise<void> | undefined;
  readonly groupId: string;

  constructor(
    readonly stage: StageDefinition,
    private readonly options: StageRunnerOptions,
  ) {
    this.groupId = `${options.groupPrefix ?? options.topicPrefix}${stage.group}`;
    for (const input of stage.inputs) this.logicalTopic.set(this.topic(input), input);
    this.policy = {
      ...DEFAULT_FAILURE_POLICY,
      ...(options.systemPauseMs === undefined ? {} : { systemPauseMs: options.systemPauseMs }),
      ...options.failurePolicy,
      backoff: { ...DEFAULT_FAILURE_POLICY.backoff, ...options.failurePolicy?.backoff, ...options.retryBackoff },
      retryTopics: Boolean(stage.terminal && options.retryRoute),
    };
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 120_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      // What one fetch may bring: bounds the records a stage holds at once (decoded, they take a
      // few times their size), whatever the backlog.
      maxBytesPerPartition: options.fetch?.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: options.fetch?.maxBytes ?? 8 * 1024 * 1024,
      minBytes: options.fetch?.minBytes ?? 1,
      maxWaitTimeInMs: options.fetch?.maxWaitTimeInMs ?? 500,
      ...(stage.coPartitioned ? { partitionAssigners: [coPartitionAssigner] } : {}),
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment: Assignment = {};
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        assignment[this.logicalTopic.get(topic) ?? topic] = [...partitions].sort((a, b) => a - b);
      }
      this.assignment = assignment;
      // Restored before the first batch of the new generation is processed (see `ready`).
      this.assigning = undefined;
      void this.ready().catch(() => undefined);
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.lastError = { class: 'system', message: describeError(payload.error), at: new Date().toISOString() };
      if (payload.restart) {
        this.log.warn({ err: describeError(payload.error) }, 'consumer crashed; kafkajs restarts it');
      } else {
        // kafkajs gives up on this consumer: the process is alive but no longer works (/healthz fails).
        this.state = 'crashed';
        this.log.error({ err: describeError(payload.error) }, 'consumer crashed and will not restart');
      }
    });
    this.producer = createIdempotentProducer(options.kafka);
    this.sender = new OrderedSender({
      producer: async () => {
        await this.connectProducer();
        return this.producer;
      },
      onFailure: () => this.replaceProducer(),
      maxRequestBytes: Math.min(MAX_REQUEST_BYTES, Math.floor((options.maxMessageBytes ?? 4 * 1024 * 1024) / 2)),
    });
    this.committer = new OffsetCommitter((error) => this.log.debug({ err: describeError(error) }, 'offset commit failed; the next one covers it'));
    this.dlqLimiter = new DlqRateLimiter(options.dlqRateCapPerMinute ?? 100);
  }

  private topic(logical: string): string {
    return `${this.options.topicPrefix}${logical}`;
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private get metrics(): Metrics {
    return this.options.metrics;
  }

  async start(): Promise<void> {
    await this.connectProducer();
    await this.consumer.connect();
    for (const input of this.stage.inputs) {
      // A new group reads the compacted input from the start: that is what a full resync is.
      await this.consumer.subscribe({ topic: this.topic(input), fromBeginning: true });
    }
    this.state = 'running';
    await this.consumer.run({
      eachBatchAutoResolve: false,
      // Offsets are committed explicitly after each slice (see `consume`); this is only the
      // safety net for what kafkajs commits on a rebalance or at stop.
      autoCommitInterval: 5_000,
      partitionsConsumedConcurrently: this.options.concurrency ?? ALL_PARTITIONS,
      eachBatch: async (payload) => {
        try {
          await this.handleBatch(payload);
        } catch (error) {
          // Only kafkajs' own errors (rebalance, disconnect, a failed commit) may reach kafkajs;
          // anything else is a failure of ours, turned into a pause so it cannot loop at once.
          if ((error as { name?: string }).name?.startsWith('KafkaJS')) throw error;
          this.log.error({ err: describeError(error), topic: payload.batch.topic, partition: payload.batch.partition }, 'batch failed');
          this.pause(payload, error, { action: 'pause-partition', delayMs: this.policy.backoff.maxMs, counted: false }, 'unexpected');
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
    await this.producer.disconnect().catch(() => undefined);
    await this.stage.close?.();
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

  /** The stage's view of the current assignment, restored once per generation. */
  private ready(): Promise<void> {
    if (!this.stage.onAssignment) return Promise.resolve();
    this.assigning ??= this.stage.onAssignment(this.assignment).catch((error: unknown) => {
      this.assigning = undefined;
      throw error;
    });
    return this.assigning;
  }

  private connectProducer(): Promise<void> {
    this.producerReady ??= this.producer.connect().catch((error: unknown) => {
      this.producerReady = undefined;
      throw classifyKafkaError(error);
    });
    return this.producerReady;
  }

  /**
   * After a failed send the idempotent producer's sequence numbers may no longer match the
   * broker's: a later send could be refused or silently taken as a duplicate. A new producer
   * starts a new sequence.
   */
  private replaceProducer(): void {
    const old = this.producer;
    void old.disconnect().catch(() => undefined);
    this.producer = createIdempotentProducer(this.options.kafka);
    this.producerReady = undefined;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    // Restoring a stage's state can take longer than the session timeout: keep the membership alive.
    const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), 3_000);
    try {
      await this.ready();
    } catch (error) {
      this.pause(payload, error, { action: 'pause-stage', delayMs: this.policy.systemPauseMs, reason: 'system' }, 'assignment');
      return;
    } finally {
      clearInterval(beat);
    }
    if (this.stage.coPartitioned) await this.locks.run(payload.batch.partition, () => this.consume(payload));
    else await this.consume(payload);
  }

  /**
   * Slices of the batch are processed one after the other; the outputs of a slice go to the
   * ordered sender and the next slice is processed while Kafka acknowledges them (at most
   * `slicesInFlight` waiting). Offsets are resolved and committed strictly in order, and only once
   * a slice's outputs were acknowledged; a failed produce stops the partition before anything after
   * the failed slice is resolved, and the sender sends nothing of this partition after it.
   */
  private async consume(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const started = performance.now();
    const max = this.options.maxRecordsPerCall ?? 500;
    const depth = Math.max(1, this.options.slicesInFlight ?? 2);
    const generation = this.sender.generation;
    const inFlight: InFlightSlice[] = [];
    this.log.debug({ topic: batch.topic, partition: batch.partition, records: batch.messages.length, firstOffset: batch.firstOffset() }, 'batch');
    try {
      for (let i = 0; i < batch.messages.length; i += max) {
        if (isStale()) return;
        // Stopping: what is already on its way is settled below, the rest is read again later.
        if (!isRunning()) break;
        const slice = batch.messages.slice(i, i + max);
        const outcomes = await this.process(batch.topic, batch.partition, slice, heartbeat, isStale);
        const plan = this.route(batch.topic, batch.partition, outcomes);
        // A revoked or re-seeked partition belongs to someone else now: its outputs must not be
        // produced twice out of order.
        if (isStale()) return;
        const acknowledged = this.sender.send(plan.messages, generation);
        // Settled in order below; until then a rejection is not unhandled.
        acknowledged.catch(() => undefined);
        inFlight.push({ acknowledged, plan, firstOffset: slice[0]!.offset });
        if (plan.stop) break;
        while (inFlight.length >= depth) {
          if (!(await this.settle(payload, inFlight.shift()!))) return;
        }
        await heartbeat();
      }
      while (inFlight.length > 0) {
        if (!(await this.settle(payload, inFlight.shift()!))) return;
      }
      this.metrics.batchSeconds.observe({ stage: this.stage.name }, (performance.now() - started) / 1000);
    } finally {
      // Slices not settled are not resolved: their records are read again. Wait for their sends
      // anyway, so nothing of this partition is still on its way when the batch is over.
      await Promise.allSettled(inFlight.map((f) => f.acknowledged));
    }
  }

  /**
   * Waits for a slice's outputs to be acknowledged, then resolves and commits its offsets, counts
   * its records and carries out a stop the slice ended with. False when the partition must stop.
   */
  private async settle(payload: EachBatchPayload, slice: InFlightSlice): Promise<boolean> {
    const { batch, resolveOffset } = payload;
    const { plan } = slice;
    try {
      await slice.acknowledged;
    } catch (error) {
      const classified = classifyKafkaError(error);
      const attempt = this.countAttempt(batch.topic, batch.partition, slice.firstOffset);
      // A produce that keeps failing is Kafka's failure, not the records': never dead-letter for it.
      const decision = decideFailure(classified, attempt, { ...this.policy, maxAttempts: Number.POSITIVE_INFINITY, retryTopics: false });
      this.pause(payload, classified, decision, 'produce');
      return false;
    }
    for (const offset of plan.resolved) resolveOffset(offset);
    if (plan.resolved.length > 0) this.committer.request(payload);
    for (const [outcome, count] of Object.entries(plan.counts)) {
      if (count > 0) this.metrics.records.inc({ stage: this.stage.name, outcome }, count);
    }
    if (plan.stop) {
      this.pause(payload, plan.stop.error, plan.stop.decision, plan.stop.reason);
      return false;
    }
    this.attempts.delete(partitionKey(batch.topic, batch.partition));
    return true;
  }

  /** Waits for this stage's next turn on the event loop (see {@link CpuTurns}). */
  private turn(): Promise<void> {
    // A terminal stage mostly waits for its target; its short steps never queue behind the others'.
    return this.stage.terminal ? yieldToEventLoop() : CPU_TURNS.take();
  }

  private async process(topic: string, partition: number, slice: KafkaMessage[], heartbeat: () => Promise<void>, isStale: () => boolean): Promise<Outcome[]> {
    await this.turn();
    const decoded = await Promise.all(slice.map((message) => this.decode(topic, partition, message)));
    const records = decoded.filter((d): d is InputRecord => !(d instanceof Error));
    await this.turn();
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
    await this.turn();
    let next = 0;
    return Promise.all(
      slice.map(async (message, index): Promise<Outcome> => {
        const d = decoded[index];
        if (d instanceof Error) return { message, result: { ok: false, error: d } };
        const result = results[next++]!;
        if (!result.ok) return { message, result };
        try {
          return { message, result: { ok: true, messages: await this.encodeOutputs(result.outputs), stale: result.stale === true } };
        } catch (error) {
          return { message, result: { ok: false, error } };
        }
      }),
    );
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
        raw: message.value,
        sourceVersion: BigInt(versionText),
        occurredAt: Number.isFinite(occurredAt) ? Number(occurredAt) : Number(message.timestamp),
      };
    } catch (error) {
      return error instanceof Error ? error : new PermanentError(describeError(error), { code: 'undecodable' });
    }
  }

  /**
   * Encodes one record's outputs. Throws (and so fails that record alone) when a value does not
   * match its schema, the registry cannot be reached, or an encoded value would not fit its
   * topic's `max.message.bytes`.
   */
  private async encodeOutputs(outputs: readonly OutputRecord[]): Promise<Outgoing[]> {
    const limit = this.options.maxMessageBytes ?? 4 * 1024 * 1024;
    return Promise.all(
      outputs.map(async (o): Promise<Outgoing> => {
        const topic = this.topic(o.topic);
        const value = o.rawValue !== undefined ? o.rawValue : o.value === null ? null : await this.options.codec.encode(topic, o.value);
        if (value !== null && value.length > limit - RECORD_OVERHEAD_BYTES) {
          throw new PermanentError(`output of ${value.length} bytes for ${topic} exceeds its max.message.bytes ${limit}`, { code: 'record_too_large' });
        }
        return {
          topic,
          key: o.key,
          value,
          headers: { ...o.headers, [HEADERS.sourceVersion]: o.sourceVersion.toString(), [HEADERS.occurredAt]: String(o.occurredAt) },
        };
      }),
    );
  }

  /** How often the record at `offset` has failed in place, this failure included. */
  private countAttempt(topic: string, partition: number, offset: string): number {
    const key = partitionKey(topic, partition);
    const previous = this.attempts.get(key);
    const count = previous?.offset === offset ? previous.count + 1 : 1;
    this.attempts.set(key, { offset, count });
    return count;
  }

  /** Walks outcomes in offset order; stops at the first failure that must not be skipped. */
  private route(topic: string, partition: number, outcomes: Outcome[]) {
    const messages: Outgoing[] = [];
    const resolved: string[] = [];
    const counts = { ok: 0, stale: 0, dlq: 0, retried: 0 };
    const limit = this.options.maxMessageBytes ?? 4 * 1024 * 1024;
    for (const { message, result } of outcomes) {
      if (result.ok) {
        messages.push(...result.messages);
        resolved.push(message.offset);
        counts[result.stale ? 'stale' : 'ok'] += 1;
        continue;
      }
      const headers = headersToStrings(message.headers);
      const attempt = classify(result.error) === 'retryable' ? this.countAttempt(topic, partition, message.offset) : 1;
      const decision = decideFailure(result.error, attempt, this.policy);
      const failed: FailedRecord = {
        topic,
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers: { ...headers, [HEADERS.attempt]: String(Math.max(attempt, Number(headers[HEADERS.attempt] ?? 1))) },
      };
      if (decision.action === 'dead-letter') {
        if (!this.dlqLimiter.tryAcquire()) {
          const error = new SystemError(`the DLQ rate of stage ${this.stage.name} passed its cap: ${describeError(result.error)}`, { code: 'dlq_rate', cause: result.error });
          return { messages, resolved, counts, stop: { error, decision: { action: 'pause-stage', delayMs: this.policy.systemPauseMs, reason: 'system' } as FailureDecision, reason: 'dlq-rate' } };
        }
        // A record too large to copy into the DLQ goes there as headers only: the facts, not the bytes.
        const headersOnly = (message.value?.length ?? 0) > limit - RECORD_OVERHEAD_BYTES;
        messages.push({ topic: dlqTopic(this.options.topicPrefix, this.stage.group), ...dlqMessage(this.stage.name, failed, result.error, decision.errorClass, { headersOnly }) });
        this.metrics.dlq.inc({ stage: this.stage.name, error_class: decision.errorClass });
        counts.dlq += 1;
        this.log.warn({ stage: this.stage.name, key: message.key?.toString(), topic, partition, offset: message.offset, attempt, reason: decision.reason, err: describeError(result.error) }, 'record sent to the DLQ');
        resolved.push(message.offset);
        continue;
      }
      if (decision.action === 'retry-topic' && this.options.retryRoute) {
        messages.push(this.options.retryRoute(failed, result.error));
        counts.retried += 1;
        resolved.push(message.offset);
        continue;
      }
      if (decision.action === 'pause-partition') counts.retried += 1;
      return { messages, resolved, counts, stop: { error: result.error, decision, reason: classify(result.error) } };
    }
    return { messages, resolved, counts, stop: undefined };
  }

  private pause(payload: EachBatchPayload, error: unknown, decision: FailureDecision, reason: string): void {
    const { batch } = payload;
    const key = partitionKey(batch.topic, batch.partition);
    const delay = decision.action === 'pause-stage' || decision.action === 'pause-partition' ? decision.delayMs : this.policy.backoff.initialMs;
    const wholeStage = decision.action === 'pause-stage';
    const errorClass = classify(error);
    this.lastError = { class: errorClass, message: describeError(error), at: new Date().toISOString() };
    // A system error is wrong for every record: pause every input of the stage, not just this one.
    const resumeOne = payload.pause();
    const resumeAll = wholeStage
      ? (() => {
          const topics = this.stage.inputs.map((t) => ({ topic: this.topic(t) }));
          this.consumer.pause(topics);
          return () => this.consumer.resume(topics);
        })()
      : undefined;
    const pausedReason = wholeStage && reason !== 'dlq-rate' ? 'system' : reason;
    this.metrics.paused.set({ stage: this.stage.name, reason: pausedReason }, 1);
    const attempt = this.attempts.get(key)?.count;
    this.log[wholeStage ? 'error' : 'warn'](
      { stage: this.stage.name, topic: batch.topic, partition: batch.partition, attempt, delayMs: delay, reason: pausedReason, err: describeError(error) },
      wholeStage ? 'stage paused: system error (alert)' : 'partition paused: retrying in place',
    );
    const previous = this.paused.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      this.paused.delete(key);
      this.metrics.paused.set({ stage: this.stage.name, reason: pausedReason }, 0);
      if (this.state !== 'running') return;
      resumeAll?.();
      resumeOne();
      this.log.info({ stage: this.stage.name, topic: batch.topic, partition: batch.partition }, 'resumed');
    }, delay);
    timer.unref();
    this.paused.set(key, { reason: pausedReason, until: Date.now() + delay, timer });
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Turns on the event loop for the CPU-bound steps of the stages of one process (decoding a slice,
 * the stage's work on it, encoding its outputs), one step per loop iteration, first come first
 * served. Those steps are promise chains that never wait for I/O on their own: left alone, every
 * partition of every stage would run its step in the same iteration, and I/O that completed
 * meanwhile (an acknowledgement, a finished store write) would wait behind all of them, which
 * starves a stage that mostly waits (the store) while the others have work. With turns, I/O is
 * served between any two steps.
 */
class CpuTurns {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  take(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.waiting.shift()!();
      this.schedule();
    });
  }
}

const CPU_TURNS = new CpuTurns();

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function splitPartitionKey(key: string): [string, number] {
  const [topic, partition] = key.split('\u0000');
  return [topic!, Number(partition)];
}
