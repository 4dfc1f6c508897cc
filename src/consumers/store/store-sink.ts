import type { Config } from '../../config/schema.js';
import { isAspectType, type AspectType } from '../../core/entities.js';
import { PermanentError } from '../../core/errors.js';
import type { VectorSetRecord } from '../../core/records.js';
import { APPLIED, failed, STALE, type Sink, type SinkRecord, type SinkResult } from '../../core/sink.js';
import type { CollectionSpec, StoreWrite, VectorStore } from '../../stores/vector-store.js';

/** Fields of an aspect record that are bookkeeping, not payload. */
const ASPECT_META = new Set(['tenant', 'store_id', 'entity_id', 'source_version', 'occurred_at']);

export interface StoreSinkOptions {
  /** The target's stable name (see {@link storeTarget}). */
  target: string;
  /**
   * When given, the sink owns the store: `connect()` connects it and ensures this collection, and
   * `close()` closes it. Without it the store is the caller's, already connected, and left open.
   */
  collection?: CollectionSpec;
}

/**
 * The vector store as a sink (docs/sinks.md): `vectors` records become the document's points (a
 * tombstone deletes the document, leaving its head as a delete marker), `changes.product_price`
 * and `changes.product_stock` records update the payload of the product's points without
 * re-embedding (a tombstone clears the aspect's fields). A batch is one guarded `applyBatch`
 * (src/stores/guarded-store.ts): what the version guard drops is `stale`, a write wrong on its own
 * fails alone, a failure of the store throws for the batch. A record of another topic fails alone.
 */
export function createStoreSink(store: VectorStore, options: StoreSinkOptions): Sink<unknown> {
  const owned = options.collection !== undefined;
  let closed: Promise<void> | undefined;
  return {
    target: options.target,
    async connect() {
      if (!owned) return;
      await store.connect();
      await store.ensureCollection(options.collection!);
    },
    close() {
      closed ??= owned ? store.close() : Promise.resolve();
      return closed;
    },
    async write(records) {
      const results: SinkResult[] = new Array(records.length);
      const writes: StoreWrite[] = [];
      const positions: number[] = [];
      records.forEach((record, index) => {
        try {
          writes.push(toStoreWrite(record));
          positions.push(index);
        } catch (error) {
          results[index] = failed(error);
        }
      });
      const applied = writes.length === 0 ? [] : await store.applyBatch(writes);
      applied.forEach((result, i) => {
        results[positions[i]!] = result.applied ? APPLIED : result.reason === 'stale' ? STALE : failed(result.error);
      });
      return results;
    },
  };
}

/** The store's name for breaker, limits and metrics: `qdrant:<host>/<collection>` or `lancedb:<collection>`. */
export function storeTarget(config: Pick<Config['store'], 'qdrantUrl' | 'collection'>): string {
  if (config.qdrantUrl !== undefined) return `qdrant:${new URL(config.qdrantUrl).host}/${config.collection}`;
  return `lancedb:${config.collection}`;
}

/** One record as the store's write. Throws a PermanentError for a topic the store does not take. */
export function toStoreWrite(record: SinkRecord<unknown>): StoreWrite {
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

function aspectFields(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !ASPECT_META.has(k)));
}

function clearedFields(aspect: AspectType): Record<string, unknown> {
  return aspect === 'product_price'
    ? { price: null, special_price: null, special_from_date: null, special_to_date: null, currency: null }
    : { qty: null, stock_status: null, is_in_stock: null };
}
