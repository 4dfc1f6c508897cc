import type { StageDefinition } from '../../core/stage.js';
import { composeSink, type SinkWrappers } from '../../sinks/compose.js';
import { createSinkStage } from '../../sinks/sink-stage.js';
import type { VectorStore } from '../../stores/vector-store.js';
import { createStoreSink } from './store-sink.js';

export const STORE_INPUTS = ['vectors', 'changes.product_price', 'changes.product_stock'];

export interface StoreStageOptions {
  /** Called after each applied write with its source time, for the source-to-indexed latency. */
  onIndexed?: (occurredAt: number, record: { topic: string; key: string }) => void;
  /** The store's name for breaker, limits and metrics (`storeTarget(config.store)`). @defaultValue `store` */
  target?: string;
  /** Circuit breaker and rate limit around the store (docs/sinks.md); record isolation is on unless turned off. */
  wrappers?: SinkWrappers;
}

/**
 * The terminal stage: the store sink (store-sink.ts) behind the standard wrappers, as a sink stage.
 * VectorSets become points, tombstones delete a document (leaving the head as a delete marker), and
 * price/stock aspects update the payload of the product's points without re-embedding. Every write
 * goes through the store's own version guard (docs/design.md §2), so a replay, a redelivery or a
 * retried record never lets an older version win; a write the guard drops is reported `stale`.
 *
 * A slice (records of one partition, in offset order) is applied as one guarded batch. The inputs
 * are co-partitioned (`coPartitioned`): the runner gives partitions with one number of all three
 * topics to one member and processes them one at a time, so one document has one writer. The store
 * is the caller's: connected before, closed after.
 */
export function createStoreStage(store: VectorStore, options: StoreStageOptions = {}): StageDefinition<unknown, never> {
  const sink = composeSink(createStoreSink(store, { target: options.target ?? 'store' }), options.wrappers);
  return createSinkStage({ name: 'store', group: 'store', inputs: STORE_INPUTS, terminal: true, coPartitioned: true }, sink, {
    ...(options.onIndexed ? { onApplied: (record: { occurredAt: number; topic: string; key: string }) => options.onIndexed!(record.occurredAt, record) } : {}),
  });
}
