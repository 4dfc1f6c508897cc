import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { classify, describeError, PermanentError, SystemError, type ErrorClass } from '../core/errors.js';
import { decide, decideFailure, DEFAULT_FAILURE_POLICY, type FailureDecision, type FailurePolicy } from '../core/failure-policy.js';
import { HEADERS } from '../core/records.js';
import { CORE_STAGE_NAMES } from '../core/stages.js';
import type { Assignment, InputRecord, OutputRecord, RecordOrigin, RecordResult, StageDefinition } from '../core/stage.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RecordCodec } from './codec.js';
import { coPartitionAssigner, PartitionNumberLocks } from './co-partition-assigner.js';
import { DlqRateLimiter, dlqMessage, dlqTopic, headersToStrings, type FailedRecord } from './dlq.js';
import { createIdempotentProducer } from './client.js';
import { classifyKafkaError } from './kafka-errors.js';
import { untilKafkaReachable } from './until-reachable.js';
import { kafkajsMessageProducer, OrderedSender, type MessageProducer, type Outgoing } from './ordered-sender.js';
import { retryMessage, type RetryTopicsOptions } from './retry-topics.js';
import { retryTopicName } from './topic-catalogue.js';
import { CpuTurns } from './cpu-turns.js';

/**
 * Runs one stage in its own consumer group (docs/design.md §3). The runner owns everything Kafka:
 * consuming with `eachBatch` and in-order `resolveOffset`, decoding, calling the stage, encoding
 * and producing its outputs, committing after every slice once they are acknowledged, and carrying
 * out what {@link decide} decides for each record (besides acknowledging it):
 *
 * - dead-letter (undecodable, a value that does not fit its schema or its topic's size limit, a
 *   retryable failure out of attempts): the record goes to `<group>.dlq` with its input topic,
 *   partition and offset, and the partition goes on;
 * - retry-topic (terminal stages with `retry`): the record goes to `<group>.retry.<delay>` of its
 *   tier (src/kafka/retry-topics.ts), and the partition goes on;
 * - pause-partition: the partition stops at the record and reads it again after the delay (a
 *   retry in place, so an output topic is never reordered, or a retry record not due yet, which
 *   is no attempt);
 * - pause-stage: every input of the stage stops for the delay: a system error (alerts, readiness
 *   fails), the target's open circuit or a spent rate limit (a warning; the worker stays ready).
 *   Nothing goes to the DLQ for it.
 *
 * Retry and DLQ records of a slice go through the same ordered sender as its outputs, and its
 * offsets are committed only once all of them were acknowledged.
 *
 * Encoding happens per record before anything of a slice is produced, so one record whose output
 * cannot be encoded fails alone. A failed produce sends nothing of the slice's offsets to the
 * commit, replaces the producer (its idempotent sequence state may be broken) and retries the
 * slice after a backoff. A raw Error never escapes the kafkajs handler: kafkajs would retry a plain
 * Error at once, forever, on the same offset.
 */
export interface StageRunnerOptions {
  kafka: Kafka;
  /**
   * Makes the idempotent producer the stage sends its outputs, retries and dead letters with; a
   * new one after every failed send. @defaultValue a kafkajs producer of `kafka`
   * (the pipeline passes one over @platformatic/kafka, PlatformaticMessageProducer)
   */
  createProducer?: () => MessageProducer;
  codec: RecordCodec;
  logger: Logger;
  metrics: Metrics;
  topicPrefix: string;
  /** Prefix of the consumer group id; a new prefix is a fresh set of groups (a full replay). @defaultValue topicPrefix */
  groupPrefix?: string;
  /** Partitions processed at once. @defaultValue every partition the member owns */
  concurrency?: number;
  /** Records handed to the stage per call. @defaultValue 2000 */
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
  /**
   * Terminal stages only: delayed retry topics `<group>.retry.<delay>`, one tier per delay, instead
   * of retrying in place (sets the policy's `retryTopics` and `retryTiers`). Give the runner of the
   * stage's retry consumer (`createRetryStage`, src/kafka/retry-topics.ts) the same.
   */
  retry?: RetryTopicsOptions;
}

/**
 * `reconnecting`: kafkajs gave up a round of retries (the broker unreachable, say) and restarts the
 * consumer; not ready, but alive: the stage goes on by itself once its group is joined again.
 */
export type StageState = 'created' | 'running' | 'paused' | 'reconnecting' | 'stopping' | 'stopped' | 'crashed';

export interface StageHealth {
  stage: string;
  group: string;
  state: StageState;
  pausedPartitions: Array<{ topic: string; partition: number; reason: string; until: string }>;
  lastError?: { class: ErrorClass; message: string; at: string };
}

/** One input record after the stage and the encoder: where it was first read, its result and its encoded outputs. */
interface Outcome {
  message: KafkaMessage;
  headers: Record<string, string>;
  origin: RecordOrigin;
  result: RecordResult;
  messages: Outgoing[];
}

/** Why a partition's slice stopped, and when that was decided (pauses count from then). */
interface Stop {
  error: unknown;
  decision: FailureDecision;
  /** Replaces the label the decision gives the pause (`dlq-rate`, `produce`, `unexpected`). */
  reason?: string;
  at: number;
}

interface PartitionPause {
  topic: string;
  partition: number;
  reason: string;
  until: number;
  timer: NodeJS.Timeout;
}

/** The label of a partition waiting for a retry record's due time: normal work, neither a pause of the stage nor an error. */
const NOT_DUE = 'not-due';

/** Space a record needs beyond its value (key, headers, batch overhead) within `max.message.bytes`. */
const RECORD_OVERHEAD_BYTES = 16 * 1024;
/**
 * Workers kafkajs starts when no concurrency is configured: more than the partitions a member of
 * one stage owns (the store's three co-partitioned inputs of 6 partitions give 18 batches per fetch).
 */
const ALL_PARTITIONS = 64;
const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
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
  private producer: MessageProducer;
  private producerReady: Promise<void> | undefined;
  private readonly sender: OrderedSender;
  private readonly committer: OffsetCommitter;
  private readonly dlqLimiter: DlqRateLimiter;
  private readonly policy: FailurePolicy;
  /** Per partition: the offset of the record that last failed in place, and how often. */
  private readonly attempts = new Map<string, { offset: string; count: number }>();
  /** Partitions this runner paused, with the timer that resumes each. */
  private readonly paused = new Map<string, PartitionPause>();
  /** Partitions this member owns in the current generation (full topic names). */
  private owned = new Set<string>();
  /** Every input paused at once (pause-stage), shown on the partition whose record caused it. */
  private stagePause: PartitionPause | undefined;
  /** Full names of the retry tiers' topics, in tier order; empty without `retry`. */
  private readonly retryTopics: readonly string[];
  private readonly retryDelaysMs: readonly number[];
  private readonly locks = new PartitionNumberLocks();
  private state: StageState = 'created';
  /** Since kafkajs restarts the consumer after a crash, until the group is joined again. */
  private reconnecting = false;
  private lastError: StageHealth['lastError'];
  private readonly logicalTopic = new Map<string, string>();
  private assignment: Assignment = {};
  private assigning: Promise<void> | undefined;
  /** The start in progress or done (never rejects): a stop waits for it. */
  private starting: Promise<void> | undefined;
  readonly groupId: string;
  /** The stage's place in the pipeline: further down takes its CPU turns first (CpuTurns). */
  private readonly turnPriority: number;

  constructor(
    readonly stage: StageDefinition,
    private readonly options: StageRunnerOptions,
  ) {
    this.groupId = `${options.groupPrefix ?? options.topicPrefix}${stage.group}`;
    this.turnPriority = Math.max(0, (CORE_STAGE_NAMES as readonly string[]).indexOf(stage.name));
    for (const input of stage.inputs) this.logicalTopic.set(this.topic(input), input);
    if (options.retry && !stage.terminal) {
      // A retry topic would let a later record of the key overtake the failed one in the output.
      throw new Error(`stage ${stage.name} is not terminal: intermediate stages retry in place, never through retry topics (docs/design.md §2)`);
    }
    if (stage.origin && !options.retry) {
      throw new Error(`stage ${stage.name} reads retry tiers: give its runner the tiers of its group (retryConsumerOptions in src/kafka/retry-topics.ts)`);
    }
    this.retryDelaysMs = options.retry?.delaysMs ?? [];
    this.retryTopics = this.retryDelaysMs.map((delay) => this.topic(retryTopicName(this.failureGroup, delay)));
    this.policy = {
      ...DEFAULT_FAILURE_POLICY,
      ...(options.systemPauseMs === undefined ? {} : { systemPauseMs: options.systemPauseMs }),
      ...options.failurePolicy,
      backoff: { ...DEFAULT_FAILURE_POLICY.backoff, ...options.failurePolicy?.backoff, ...options.retryBackoff },
      retryTopics: this.retryTopics.length > 0,
      retryTiers: this.retryTopics.length,
    };
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 120_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      // What one fetch may bring: bounds the records a stage holds at once (decoded, they take a
      // few times their size), whatever the backlog.
      maxBytesPerPartition: options.fetch?.maxBytesPerPartition ?? 4 * 1024 * 1024,
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
      this.reconnecting = false;
      this.forgetRevoked(payload.memberAssignment);
      // Restored before the first batch of the new generation is processed (see `ready`).
      this.assigning = undefined;
      void this.ready().catch(() => undefined);
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.lastError = { class: 'system', message: describeError(payload.error), at: new Date().toISOString() };
      if (payload.restart) {
        this.reconnecting = true;
        this.log.warn({ err: describeError(payload.error) }, 'consumer crashed; kafkajs restarts it');
      } else {
        // kafkajs gives up on this consumer: the process is alive but no longer works (/healthz fails).
        this.state = 'crashed';
        this.log.error({ err: describeError(payload.error) }, 'consumer crashed and will not restart');
      }
    });
    this.producer = this.newProducer();
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

  /** The logical name of a full topic name: an input's, or a record's origin (prefix removed). */
  private logical(topic: string): string {
    const prefix = this.options.topicPrefix;
    return this.logicalTopic.get(topic) ?? (prefix && topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  }

  /** The group whose DLQ and retry tiers take this stage's failures. */
  private get failureGroup(): string {
    return this.stage.failureGroup ?? this.stage.group;
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private get metrics(): Metrics {
    return this.options.metrics;
  }

  async start(): Promise<void> {
    const starting = this.connectAndRun();
    this.starting = starting.catch(() => undefined);
    await starting;
  }

  /** Goes no further once a stop was asked for (state `stopping`): `stop` then cleans up. */
  private async connectAndRun(): Promise<void> {
    // A broker away or restarting while the stage starts is waited for (not ready meanwhile), as
    // it is once the stage runs: exiting would only restart the process into the same wait.
    const connected = await untilKafkaReachable(
      async () => {
        try {
          await this.connectProducer();
        } catch (error) {
          this.replaceProducer();
          throw error;
        }
        if (this.state !== 'created') return false;
        await this.consumer.connect();
        for (const input of this.stage.inputs) {
          // A new group reads the compacted input from the start: that is what a full resync is.
          await this.consumer.subscribe({ topic: this.topic(input), fromBeginning: true });
        }
        return true;
      },
      { what: `starting the ${this.stage.name} stage`, logger: this.log, stopped: () => this.state !== 'created' },
    );
    if (!connected || this.state !== 'created') return;
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
          this.pause(payload, { error, decision: { action: 'pause-partition', delayMs: this.policy.backoff.maxMs, counted: false }, reason: 'unexpected', at: Date.now() });
        }
      },
    });
    if (this.state === 'running') this.log.info({ stage: this.stage.name, group: this.groupId, inputs: this.stage.inputs }, 'stage running');
  }

  /** Finishes in-flight work, commits resolved offsets, leaves the group; during `start`, stops it there. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    for (const { timer } of this.paused.values()) clearTimeout(timer);
    if (this.stagePause) clearTimeout(this.stagePause.timer);
    // kafkajs ignores a stop while the consumer joins its group and then runs on as a member that
    // nothing stops: a stop during start waits for the join (seconds), then leaves the group.
    await this.starting;
    await this.consumer.disconnect();
    await this.producer.disconnect().catch(() => undefined);
    await this.stage.close?.();
    this.state = 'stopped';
    this.log.info({ stage: this.stage.name }, 'stage stopped');
  }

  /**
   * `reconnecting` while kafkajs restarts the consumer after a crash; `paused` while the stage or one
   * of its partitions is paused for a failure; partitions waiting for a retry record's due time are
   * listed (reason `not-due`) but leave the stage `running`.
   */
  health(): StageHealth {
    const pauses = [...(this.stagePause ? [this.stagePause] : []), ...this.paused.values()];
    const pausedForFailure = pauses.some((p) => p.reason !== NOT_DUE);
    return {
      stage: this.stage.name,
      group: this.groupId,
      state: this.state !== 'running' ? this.state : this.reconnecting ? 'reconnecting' : pausedForFailure ? 'paused' : 'running',
      pausedPartitions: pauses.map((p) => ({ topic: p.topic, partition: p.partition, reason: p.reason, until: new Date(p.until).toISOString() })),
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
    this.producer = this.newProducer();
    this.producerReady = undefined;
  }

  private newProducer(): MessageProducer {
    return this.options.createProducer?.() ?? kafkajsMessageProducer(createIdempotentProducer(this.options.kafka));
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    // Restoring a stage's state can take longer than the session timeout: keep the membership alive.
    const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), 3_000);
    try {
      await this.ready();
    } catch (error) {
      this.pause(payload, { error, decision: { action: 'pause-stage', delayMs: this.policy.systemPauseMs, reason: 'system' }, at: Date.now() });
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
    const max = this.options.maxRecordsPerCall ?? 2000;
    const depth = Math.max(1, this.options.slicesInFlight ?? 2);
    const generation = this.sender.generation;
    const inFlight: InFlightSlice[] = [];
    this.log.debug({ topic: batch.topic, partition: batch.partition, records: batch.messages.length, firstOffset: batch.firstOffset() }, 'batch');
    try {
      for (let i = 0; i < batch.messages.length; i += max) {
        if (isStale()) return;
        // Stopping, or the whole stage paused (kafkajs still hands over batches fetched before):
        // what is already on its way is settled below, the rest is read again later.
        if (!isRunning() || this.stagePause) break;
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
      const attempt = this.nextAttempt(batch.topic, batch.partition, slice.firstOffset);
      this.recordAttempt(batch.topic, batch.partition, slice.firstOffset, attempt);
      // A produce that keeps failing is Kafka's failure, not the records': never dead-letter for it.
      const decision = decideFailure(classified, attempt, { ...this.policy, maxAttempts: Number.POSITIVE_INFINITY, retryTopics: false });
      this.pause(payload, { error: classified, decision, reason: 'produce', at: Date.now() });
      return false;
    }
    for (const offset of plan.resolved) resolveOffset(offset);
    if (plan.resolved.length > 0) this.committer.request(payload);
    for (const [outcome, count] of Object.entries(plan.counts)) {
      if (count > 0) this.metrics.records.inc({ stage: this.stage.name, outcome }, count);
    }
    if (plan.stop) {
      this.pause(payload, plan.stop);
      return false;
    }
    this.attempts.delete(partitionKey(batch.topic, batch.partition));
    return true;
  }

  /** Waits for this stage's next turn on the event loop (see {@link CpuTurns}). */
  private turn(): Promise<void> {
    // A terminal stage mostly waits for its target; its short steps never queue behind the others'.
    return this.stage.terminal ? yieldToEventLoop() : CPU_TURNS.take(this.turnPriority);
  }

  /**
   * Decodes a slice, has the stage work on it and encodes its outputs. A stage other than a
   * terminal one does each in steps of STEP_RECORDS records, taking a turn before each (see
   * CpuTurns): a slice of 2,000 records is one unit of commit and of produce, not one stretch of
   * the event loop that the store's completions would wait behind.
   */
  private async process(topic: string, partition: number, slice: KafkaMessage[], heartbeat: () => Promise<void>, isStale: () => boolean): Promise<Outcome[]> {
    const step = this.stage.terminal ? slice.length : STEP_RECORDS;
    const read = slice.map((message) => this.read(topic, partition, message));
    const decoded = await this.inSteps(slice, step, (part, start) => Promise.all(part.map((message, k) => this.decode(message, read[start + k]!.headers, read[start + k]!.origin))));
    const records = decoded.filter((d): d is InputRecord => !(d instanceof Error));
    let results: RecordResult[];
    // Keep the membership alive however long the stage takes (a slow store, a cold model): kafkajs
    // only heartbeats between batches, and a member silent for a session timeout is thrown out
    // and its uncommitted work repeated.
    const beat = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
    try {
      // In order, one step after the other: a key's records keep their order across the steps.
      results = await this.inSteps(records, step, async (part) => {
        const partResults = await this.stage.process(part, { heartbeat, isStale });
        if (partResults.length !== part.length) {
          throw new PermanentError(`stage ${this.stage.name} returned ${partResults.length} results for ${part.length} records`, { code: 'stage_contract' });
        }
        return partResults;
      });
    } catch (error) {
      results = records.map(() => ({ ok: false as const, error }));
    } finally {
      clearInterval(beat);
    }
    // Each message's result, by its place in the slice (none for one that could not be decoded).
    let next = 0;
    const resultAt = decoded.map((d) => (d instanceof Error ? undefined : results[next++]!));
    return this.inSteps(slice, step, (part, start) =>
      Promise.all(
        part.map(async (message, k): Promise<Outcome> => {
          const index = start + k;
          const { headers, origin } = read[index]!;
          const outcome = { message, headers, origin: origin instanceof Error ? this.ownOrigin(topic, partition, message) : origin, messages: [] };
          const d = decoded[index];
          if (d instanceof Error) return { ...outcome, result: { ok: false, error: d } };
          const result = resultAt[index]!;
          if (!result.ok) return { ...outcome, result };
          try {
            return { ...outcome, result, messages: await this.encodeOutputs(result.outputs) };
          } catch (error) {
            return { ...outcome, result: { ok: false, error } };
          }
        }),
      ),
    );
  }

  /**
   * `work` on `items` in steps of `step` items, one after the other, each after a turn on the
   * event loop (see `turn`); the results of all steps in order. `start` is a step's first index.
   */
  private async inSteps<T, R>(items: readonly T[], step: number, work: (part: T[], start: number) => Promise<R[]>): Promise<R[]> {
    const out: R[] = [];
    for (let start = 0; start < items.length; start += step) {
      await this.turn();
      for (const result of await work(items.slice(start, start + step), start)) out.push(result);
    }
    return out;
  }

  /** A record's headers as strings and where it was first read (an Error when its stage cannot tell). */
  private read(topic: string, partition: number, message: KafkaMessage): { headers: Record<string, string>; origin: RecordOrigin | Error } {
    const headers = headersToStrings(message.headers);
    if (!this.stage.origin) return { headers, origin: this.ownOrigin(topic, partition, message) };
    try {
      return { headers, origin: this.stage.origin(headers, this.logical(topic)) ?? this.ownOrigin(topic, partition, message) };
    } catch (error) {
      return { headers, origin: error instanceof Error ? error : new PermanentError(describeError(error), { code: 'invalid_origin' }) };
    }
  }

  private ownOrigin(topic: string, partition: number, message: KafkaMessage): RecordOrigin {
    return { topic, partition, offset: message.offset, failures: 0 };
  }

  /**
   * Decodes a record with the schema of the topic it was first read from, and presents it as
   * read from there (a retry record is its original record to the stage).
   */
  private async decode(message: KafkaMessage, headers: Record<string, string>, origin: RecordOrigin | Error): Promise<InputRecord | Error> {
    try {
      if (origin instanceof Error) throw origin;
      const key = message.key?.toString('utf8');
      if (!key) throw new PermanentError('record has no key', { code: 'missing_key' });
      const value = message.value === null ? null : await this.options.codec.decode(origin.topic, message.value);
      const fromValue = value as { source_version?: bigint; occurred_at?: number } | null;
      const versionText = fromValue?.source_version?.toString() ?? headers[HEADERS.sourceVersion];
      if (versionText === undefined || !/^-?\d+$/.test(versionText)) {
        throw new PermanentError(`${value === null ? 'tombstone' : 'record'} has no source_version (header ${HEADERS.sourceVersion})`, { code: 'missing_version' });
      }
      const occurredAt = fromValue?.occurred_at ?? Number(headers[HEADERS.occurredAt] ?? message.timestamp);
      return {
        topic: this.logical(origin.topic),
        partition: origin.partition,
        offset: origin.offset,
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

  /** The attempt a failure of the record at `offset` in place would be: 1, or one more than its last. */
  private nextAttempt(topic: string, partition: number, offset: string): number {
    const previous = this.attempts.get(partitionKey(topic, partition));
    return previous?.offset === offset ? previous.count + 1 : 1;
  }

  private recordAttempt(topic: string, partition: number, offset: string, count: number): void {
    this.attempts.set(partitionKey(topic, partition), { offset, count });
  }

  /**
   * Walks outcomes in offset order and carries out what {@link decide} says for each: collects
   * outputs, DLQ and retry records to send, the offsets to resolve once they are acknowledged,
   * the counts, and stops at the first record the partition or the stage must wait on.
   */
  private route(topic: string, partition: number, outcomes: Outcome[]) {
    const messages: Outgoing[] = [];
    const resolved: string[] = [];
    const counts = { ok: 0, stale: 0, dlq: 0, retried: 0 };
    for (const outcome of outcomes) {
      const { message, result, origin } = outcome;
      const inPlace = this.nextAttempt(topic, partition, message.offset);
      // A record from a retry tier has failed before: its tier is part of its attempt count.
      const attempt = origin.failures + inPlace;
      const decision = decide(result, attempt, this.policy);
      const error = result.ok ? undefined : result.error;
      switch (decision.action) {
        case 'ack':
          messages.push(...outcome.messages);
          counts[decision.stale ? 'stale' : 'ok'] += 1;
          break;
        case 'dead-letter':
          if (!this.dlqLimiter.tryAcquire()) {
            const capped = new SystemError(`the DLQ rate of stage ${this.stage.name} passed its cap: ${describeError(error)}`, { code: 'dlq_rate', cause: error });
            const stop: Stop = { error: capped, decision: { action: 'pause-stage', delayMs: this.policy.systemPauseMs, reason: 'system' }, reason: 'dlq-rate', at: Date.now() };
            return { messages, resolved, counts, stop };
          }
          messages.push(this.deadLetter(outcome, attempt, error, decision.errorClass));
          this.metrics.dlq.inc({ stage: this.stage.name, error_class: decision.errorClass });
          counts.dlq += 1;
          this.log.warn({ stage: this.stage.name, key: message.key?.toString(), topic, partition, offset: message.offset, attempt, reason: decision.reason, err: describeError(error) }, 'record sent to the DLQ');
          break;
        case 'retry-topic':
          messages.push(this.retry(outcome, attempt, error, decision.tier));
          counts.retried += 1;
          this.log.info({ stage: this.stage.name, key: message.key?.toString(), topic, partition, offset: message.offset, attempt, tier: decision.tier, err: describeError(error) }, 'record sent to a retry tier');
          break;
        case 'pause-partition':
          // A retry record that is not due yet was not tried: no attempt, nothing retried.
          if (decision.counted) {
            this.recordAttempt(topic, partition, message.offset, inPlace);
            counts.retried += 1;
          }
          return { messages, resolved, counts, stop: { error, decision, at: Date.now() } satisfies Stop };
        case 'pause-stage':
          return { messages, resolved, counts, stop: { error, decision, at: Date.now() } satisfies Stop };
      }
      resolved.push(message.offset);
    }
    return { messages, resolved, counts, stop: undefined };
  }

  /** The record as it failed, under the coordinates where it was first read. */
  private failed(outcome: Outcome, attempt: number): FailedRecord {
    const { message, headers, origin } = outcome;
    return { topic: origin.topic, partition: origin.partition, offset: origin.offset, key: message.key, value: message.value, headers: { ...headers, [HEADERS.attempt]: String(attempt) } };
  }

  private deadLetter(outcome: Outcome, attempt: number, error: unknown, errorClass: ErrorClass): Outgoing {
    const limit = this.options.maxMessageBytes ?? 4 * 1024 * 1024;
    // A record too large to copy into the DLQ goes there as headers only: the facts, not the bytes.
    const headersOnly = (outcome.message.value?.length ?? 0) > limit - RECORD_OVERHEAD_BYTES;
    const message = dlqMessage(this.stage.name, this.failed(outcome, attempt), error, errorClass, { headersOnly });
    return { topic: dlqTopic(this.options.topicPrefix, this.failureGroup), ...message };
  }

  private retry(outcome: Outcome, attempt: number, error: unknown, tier: number): Outgoing {
    const target = { topic: this.retryTopics[tier]!, tier, delayMs: this.retryDelaysMs[tier]! };
    return retryMessage(this.stage.name, this.failed(outcome, attempt), error, classify(error), target);
  }

  /** Carries out a stop: pauses the partition or the whole stage for the decision's delay, counted from the decision. */
  private pause(payload: EachBatchPayload, stop: Stop): void {
    const { batch } = payload;
    const { decision } = stop;
    const reason = stop.reason ?? pauseLabel(decision);
    const elapsed = Date.now() - stop.at;
    if (decision.action === 'pause-stage') {
      this.pauseStage(batch.topic, batch.partition, Math.max(0, decision.delayMs - elapsed), reason, stop.error);
      return;
    }
    const waiting = reason === NOT_DUE;
    const asked = decision.action === 'pause-partition' ? decision.delayMs : this.policy.backoff.initialMs;
    // A wait for a due time is re-checked at least once per session timeout: the pause is this
    // member's memory only, and reading the head record again costs one fetch.
    const delay = waiting ? Math.min(asked, this.options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS) : asked;
    if (!waiting) this.lastError = { class: classify(stop.error), message: describeError(stop.error), at: new Date().toISOString() };
    const key = partitionKey(batch.topic, batch.partition);
    this.log[waiting ? 'debug' : 'warn'](
      { stage: this.stage.name, topic: batch.topic, partition: batch.partition, attempt: this.attempts.get(key)?.count, delayMs: delay, reason, err: describeError(stop.error) },
      waiting ? 'partition waits for its head record to be due' : 'partition paused: retrying in place',
    );
    this.pausePartition(batch.topic, batch.partition, Math.max(0, delay - elapsed), reason);
  }

  /**
   * While the whole stage is paused, a partition's own pause is only noted: in kafkajs, pausing or
   * resuming one partition of a topic paused as a whole would lift the topic's pause for the
   * others. The stage's resume puts the partition pauses still running back.
   */
  private pausePartition(topic: string, partition: number, delay: number, reason: string): void {
    const key = partitionKey(topic, partition);
    // A batch that ends after its partition was revoked leaves the record to the new owner.
    if (!this.owned.has(key)) return;
    this.clearPartitionPause(key);
    if (!this.stagePause) this.consumer.pause([{ topic, partitions: [partition] }]);
    const entry: PartitionPause = {
      topic,
      partition,
      reason,
      until: Date.now() + delay,
      timer: setTimeout(() => {
        // Only the pause still current for a partition this member owns is lifted here (see `forgetRevoked`).
        if (this.paused.get(key) !== entry) return;
        this.paused.delete(key);
        this.updatePausedGauge(reason);
        if (this.state !== 'running' || this.stagePause) return;
        this.consumer.resume([{ topic, partitions: [partition] }]);
        this.log.debug({ stage: this.stage.name, topic, partition }, 'partition resumed');
      }, delay),
    };
    entry.timer.unref();
    this.paused.set(key, entry);
    this.updatePausedGauge(reason);
  }

  /**
   * Every input of the stage stops: the failure is not the record's. A system error (or a DLQ
   * rate over its cap) alerts and makes the worker unready; an open circuit or a spent rate limit
   * is the target saying "not now": a warning, and the worker stays ready. A later pause extends
   * a running one; resuming keeps the partitions that are still paused on their own.
   */
  private pauseStage(topic: string, partition: number, delay: number, reason: string, error: unknown): void {
    const alert = reason === 'system' || reason === 'dlq-rate';
    this.lastError = { class: classify(error), message: describeError(error), at: new Date().toISOString() };
    this.log[alert ? 'error' : 'warn'](
      { stage: this.stage.name, topic, partition, delayMs: delay, reason, err: describeError(error) },
      alert ? 'stage paused: system error (alert)' : `stage paused: ${reason === 'target-down' ? 'the target is down' : 'rate limited'}`,
    );
    const until = Math.max(Date.now() + delay, this.stagePause?.until ?? 0);
    const previous = this.stagePause;
    if (previous) clearTimeout(previous.timer);
    const topics = this.stage.inputs.map((t) => ({ topic: this.topic(t) }));
    this.consumer.pause(topics);
    const entry: PartitionPause = {
      topic,
      partition,
      reason,
      until,
      timer: setTimeout(() => {
        if (this.stagePause !== entry) return;
        this.stagePause = undefined;
        this.updatePausedGauge(reason);
        if (this.state !== 'running') return;
        this.consumer.resume(topics);
        // Resuming a whole topic lifts its partitions' own pauses too: put back those still running.
        for (const p of this.paused.values()) this.consumer.pause([{ topic: p.topic, partitions: [p.partition] }]);
        this.log.info({ stage: this.stage.name }, 'stage resumed');
      }, until - Date.now()),
    };
    entry.timer.unref();
    this.stagePause = entry;
    if (previous && previous.reason !== reason) this.updatePausedGauge(previous.reason);
    this.updatePausedGauge(reason);
  }

  private clearPartitionPause(key: string): void {
    const previous = this.paused.get(key);
    if (!previous) return;
    clearTimeout(previous.timer);
    this.paused.delete(key);
    this.updatePausedGauge(previous.reason);
  }

  /**
   * After a rebalance: pauses and attempt counts of partitions this member no longer owns are
   * dropped, and their pause lifted in kafkajs (whose pauses outlive an assignment), so no timer
   * of ours acts on a partition another member owns now, and a partition that comes back starts
   * from a fresh read: its new owner reads a retry record's due time itself.
   */
  private forgetRevoked(assigned: Record<string, number[]>): void {
    const owned = new Set(Object.entries(assigned).flatMap(([topic, partitions]) => partitions.map((p) => partitionKey(topic, p))));
    this.owned = owned;
    for (const [key, pause] of [...this.paused.entries()]) {
      if (owned.has(key)) continue;
      this.clearPartitionPause(key);
      if (!this.stagePause) this.consumer.resume([{ topic: pause.topic, partitions: [pause.partition] }]);
    }
    for (const key of [...this.attempts.keys()]) if (!owned.has(key)) this.attempts.delete(key);
  }

  /** `ragsync_stage_paused{reason}`: 1 while anything of the stage is paused for that reason; a wait for a due time is not a pause. */
  private updatePausedGauge(reason: string): void {
    if (reason === NOT_DUE) return;
    const active = this.stagePause?.reason === reason || [...this.paused.values()].some((p) => p.reason === reason);
    this.metrics.paused.set({ stage: this.stage.name, reason }, active ? 1 : 0);
  }
}

/** The label of a pause the decision asks for: its reason for the stage, whether it was an attempt for a partition. */
function pauseLabel(decision: FailureDecision): string {
  if (decision.action === 'pause-stage') return decision.reason;
  if (decision.action === 'pause-partition' && !decision.counted) return NOT_DUE;
  return 'retrying';
}

/**
 * Records a stage other than a terminal one decodes, works on or encodes between two turns on the
 * event loop: what slices of 500 records were before they grew to 2,000 (runner.maxRecordsPerCall).
 */
const STEP_RECORDS = 500;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The turns of every stage runner of this thread. */
const CPU_TURNS = new CpuTurns();

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
