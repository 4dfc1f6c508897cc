import { isAspectType, type AspectType } from '../../core/entities.js';
import { PermanentError } from '../../core/errors.js';
import type { VectorSetRecord } from '../../core/records.js';
import type { InputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import type { StoreWrite, VectorStore } from '../../stores/vector-store.js';

/** Fields of an aspect record that are bookkeeping, not payload. */
const ASPECT_META = new Set(['tenant', 'store_id', 'entity_id', 'source_version', 'occurred_at']);

export const STORE_INPUTS = ['vectors', 'changes.product_price', 'changes.product_stock'];

export interface StoreStageOptions {
  /** Called after each applied write with its source time, for the source-to-indexed latency. */
  onIndexed?: (occurredAt: number) => void;
}

/**
 * The terminal stage: VectorSets become points, tombstones delete a document (leaving the head as
 * a delete marker), and price/stock aspects update the payload of the product's points without
 * re-embedding. Every write goes through the store's own version guard (docs/design.md §2), so a
 * replay, a redelivery or a retried record never lets an older version win; a write the guard
 * drops is reported `stale`.
 *
 * A slice (records of one partition, in offset order) is applied as one guarded batch. The inputs
 * are co-partitioned (`coPartitioned`): the runner gives partitions with one number of all three
 * topics to one member and processes them one at a time, so one document has one writer.
 */
export function createStoreStage(store: VectorStore, options: StoreStageOptions = {}): StageDefinition<unknown, never> {
  function toWrite(record: InputRecord<unknown>): StoreWrite {
    if (record.topic === 'vectors') {
      if (record.value === null) return { kind: 'delete', docKey: record.key, version: record.sourceVersion, deletedAt: record.occurredAt };
      return { kind: 'vectors', set: record.value as VectorSetRecord };
    }
    const aspect = record.topic.replace(/^changes\./, '');
    if (!isAspectType(aspect)) throw new PermanentError(`store stage cannot handle topic ${record.topic}`, { code: 'unexpected_topic' });
    // A tombstone of an aspect clears its fields; the product itself stays.
    const fields = record.value === null ? clearedFields(aspect) : aspectFields(record.value as Record<string, unknown>);
    return { kind: 'aspect', update: { docKey: record.key, aspect, version: record.sourceVersion, fields } };
  }

  return {
    name: 'store',
    group: 'store',
    inputs: STORE_INPUTS,
    terminal: true,
    coPartitioned: true,
    async process(records) {
      const results: RecordResult<never>[] = new Array(records.length);
      const writes: StoreWrite[] = [];
      const positions: number[] = [];
      records.forEach((record, index) => {
        try {
          writes.push(toWrite(record));
          positions.push(index);
        } catch (error) {
          results[index] = { ok: false, error };
        }
      });
      const applied = await store.applyBatch(writes);
      applied.forEach((result, i) => {
        const index = positions[i]!;
        if (result.applied) {
          options.onIndexed?.(records[index]!.occurredAt);
          results[index] = { ok: true, outputs: [] };
        } else if (result.reason === 'stale') {
          results[index] = { ok: true, outputs: [], stale: true };
        } else {
          results[index] = { ok: false, error: result.error };
        }
      });
      return results;
    },
  };
}

function aspectFields(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !ASPECT_META.has(k)));
}

function clearedFields(aspect: AspectType): Record<string, unknown> {
  return aspect === 'product_price'
    ? { price: null, special_price: null, special_from_date: null, special_to_date: null, currency: null }
    : { qty: null, stock_status: null, is_in_stock: null };
}
