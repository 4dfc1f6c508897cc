import { isAspectType, type AspectType } from '../../core/entities.js';
import { PermanentError } from '../../core/errors.js';
import type { VectorSetRecord } from '../../core/records.js';
import type { InputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import type { VectorStore } from '../../stores/vector-store.js';

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
 * replay, a redelivery or a retried record never lets an older version win.
 */
export function createStoreStage(store: VectorStore, options: StoreStageOptions = {}): StageDefinition<unknown, never> {
  async function apply(record: InputRecord<unknown>): Promise<void> {
    if (record.topic === 'vectors') {
      if (record.value === null) await store.deleteDocument(record.key, record.sourceVersion, record.occurredAt);
      else await store.applyVectorSet(record.value as VectorSetRecord);
      return;
    }
    const aspect = record.topic.replace(/^changes\./, '');
    if (!isAspectType(aspect)) throw new PermanentError(`store stage cannot handle topic ${record.topic}`, { code: 'unexpected_topic' });
    // A tombstone of an aspect clears its fields; the product itself stays.
    const fields = record.value === null ? clearedFields(aspect) : aspectFields(record.value as Record<string, unknown>);
    await store.applyAspect({ docKey: record.key, aspect, version: record.sourceVersion, fields });
  }

  return {
    name: 'store',
    group: 'store',
    inputs: STORE_INPUTS,
    terminal: true,
    async process(records) {
      const results: RecordResult<never>[] = [];
      for (const record of records) {
        try {
          await apply(record);
          options.onIndexed?.(record.occurredAt);
          results.push({ ok: true, outputs: [] });
        } catch (error) {
          results.push({ ok: false, error });
        }
      }
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
