import type { InputRecord } from './stage.js';

/**
 * What a sink is given for one record: what the record says, not where it was read from. Offsets,
 * partitions and the raw bytes stay with the runner, so a retry consumer, a replay tool or a test
 * can write to a sink without inventing Kafka coordinates. An {@link InputRecord} is one.
 */
export type SinkRecord<V = unknown> = Pick<InputRecord<V>, 'topic' | 'key' | 'value' | 'sourceVersion' | 'occurredAt'> & {
  headers?: Record<string, string>;
};

/**
 * The outcome of one record of a write:
 * - `applied`: the target holds it now;
 * - `stale`: the target's version guard dropped it on purpose (it holds a newer version);
 * - `failed`: this record alone failed; `error` is classified (src/core/errors.ts) whenever the sink
 *   knows what it means: a PermanentError for a record the target refused, a RetryableError for one
 *   it could not take now. Anything else counts as permanent.
 */
export type SinkResult = { status: 'applied' } | { status: 'stale' } | { status: 'failed'; error: unknown };

/**
 * A target the pipeline writes to: a vector store, a shop, a webhook (docs/sinks.md). A sink only
 * writes; retry, circuit breaker, rate limit and record isolation are wrappers around any sink
 * (src/sinks/), and the runner decides what happens to a failed record.
 *
 * - `connect()` opens connections; no I/O happens before it. Called once before the first write.
 * - `write(records)` writes a batch (records of one partition, in offset order) and returns one
 *   result per record, in the same order. Writing a record again is harmless (at-least-once): the
 *   target's version guard makes an equal version apply again and an older one `stale`.
 *   It throws when the batch failed as a whole, classified: a RetryableError when the target could
 *   not be reached or answered 5xx/429 (with `retryAfterMs` when it named a wait), a PermanentError
 *   when it refused the batch as a whole because of something in it (one transaction, a 400 about
 *   one of its records), a SystemError when it is wrong for every record (credentials, a missing
 *   collection). Nothing of a batch that threw may be counted as applied.
 * - `close()` releases connections; calling it again does nothing.
 */
export interface Sink<V = unknown> {
  /**
   * A stable name of the target for the circuit breaker, rate limits and metrics, the same in every
   * replica: `lancedb:<collection>`, `qdrant:<host>/<collection>`, `shopware:<host>`.
   */
  readonly target: string;
  connect(): Promise<void>;
  write(records: readonly SinkRecord<V>[]): Promise<SinkResult[]>;
  close(): Promise<void>;
}

export const APPLIED: SinkResult = { status: 'applied' };
export const STALE: SinkResult = { status: 'stale' };

export function failed(error: unknown): SinkResult {
  return { status: 'failed', error };
}
