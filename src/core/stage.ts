import type { EntityKey } from './keys.js';

/**
 * A stage is a declaration plus a function over decoded records (docs/design.md §3). The runner
 * (src/kafka/stage-runner.ts) owns everything Kafka: consuming, decoding, producing, committing,
 * routing failures. A stage never touches offsets and never imports kafkajs.
 */
export interface InputRecord<V = unknown> {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  /** The decoded value, or null for a tombstone (a delete). */
  value: V | null;
  headers: Record<string, string>;
  /** The value's exact bytes as read (wire format), or null for a tombstone. */
  raw?: Buffer | null;
  /** From the value, or from the tombstone's headers. */
  sourceVersion: bigint;
  occurredAt: number;
}

export interface OutputRecord<V = unknown> {
  /** Logical topic name without prefix, e.g. `documents`. */
  topic: string;
  key: string;
  /** null produces a tombstone; sourceVersion and occurredAt then travel as headers. */
  value: V | null;
  sourceVersion: bigint;
  occurredAt: number;
  headers?: Record<string, string>;
  /**
   * A value already in the topic's wire format (Confluent magic byte, schema id, Avro body), sent
   * as it is instead of encoding `value`: a stage that republishes a record it read (the map
   * stage's repair of a change topic) keeps the writer's exact bytes. `null` is a tombstone.
   */
  rawValue?: Buffer | null;
}

/** What a stage returns for one input record. */
export type RecordResult<O = unknown> =
  /**
   * `stale`: the record was older than what its target already holds and was dropped on purpose
   * (counted as `outcome="stale"`, never as `ok`).
   */
  | { ok: true; outputs: OutputRecord<O>[]; stale?: boolean }
  /** The record fails alone; the error's class decides DLQ, retry or pause. */
  | { ok: false; error: unknown };

export interface StageContext {
  /** Call during long work so the group does not think the worker died. */
  heartbeat(): Promise<void>;
  /** True when the partition was revoked: stop and return what is done. */
  isStale(): boolean;
}

/**
 * Where a record was first read, for a stage that reads copies of records (a terminal stage's
 * delayed retry topics, src/kafka/retry-topics.ts).
 */
export interface RecordOrigin {
  /** Full Kafka topic name, as the runner wrote it into the copy's headers. */
  topic: string;
  partition: number;
  offset: string;
  /** How often the record failed before this copy was read (its attempts so far). */
  failures: number;
}

/** Partitions a group member owns after a rebalance, by logical topic name. */
export type Assignment = Record<string, number[]>;

export interface StageDefinition<I = unknown, O = unknown> {
  name: string;
  /** Logical input topics (without prefix). */
  inputs: string[];
  /** Logical output topic, or none for terminal stages. */
  output?: string;
  /** Consumer group suffix; the group id is `<prefix><group>`. */
  group: string;
  /**
   * Processes records of one partition, in offset order, and returns one result per record in the
   * same order. A thrown error applies to the whole batch and is classified like a record error.
   */
  process(records: InputRecord<I>[], context: StageContext): Promise<RecordResult<O>[]>;
  /** Terminal stages (store, push) may route retryable failures to delayed retry topics. */
  terminal?: boolean;
  /**
   * Inputs whose partitions with the same number hold the same keys (the store's `vectors`,
   * price and stock topics): the group assigns them to one member together, and the runner never
   * processes two of them at once, so one document has one writer (docs/design.md §8).
   */
  coPartitioned?: boolean;
  /**
   * Called after every rebalance with the partitions this member now owns, before any batch of
   * them is processed (the runner waits for the returned promise). A stage with per-partition
   * state restores it here.
   */
  onAssignment?(assignment: Assignment): Promise<void>;
  /**
   * For a stage whose inputs hold copies of records first read elsewhere (the delayed retry
   * topics): where the copy with these headers came from. The runner decodes its value with the
   * origin topic's schema, hands it to `process` as read from there, adds its earlier failures to
   * its attempt count and dead-letters it with the origin's coordinates. Throws a PermanentError
   * when the headers do not say (the copy then goes to the DLQ as it is). Undefined: the record is
   * the stage's own, read where it was first written. `topic` is the logical topic it was read from.
   */
  origin?(headers: Record<string, string>, topic: string): RecordOrigin | undefined;
  /** The group whose `<group>.dlq` and `<group>.retry.<delay>` topics take this stage's failures. @defaultValue group */
  failureGroup?: string;
  /** Called once when the runner stops. */
  close?(): Promise<void>;
}

export type { EntityKey };
