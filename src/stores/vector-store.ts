import type { AspectType } from '../core/entities.js';
import type { VectorSetRecord } from '../core/records.js';

/**
 * The contract every vector store (Qdrant, LanceDB) keeps; one conformance suite
 * (test/integration/stores/conformance.ts) runs unchanged against each.
 *
 * The store is the version's home (docs/design.md §2): besides one point per chunk it keeps a small
 * head record per document (doc_key → version, deleted, deleted_at, aspect versions) that every
 * write checks before writing and updates after. Last write wins by `source_version`, never by
 * arrival; equal versions apply again (idempotence). A delete leaves the head as a marker, so a
 * stale save that arrives later is skipped — with no cache and no Redis involved.
 *
 * Races: the guard is a read-check-write per document, not a transaction. That is enough because
 * two writers of one doc_key never run at once: every input of the store is keyed by doc_key and
 * partitioned alike, the store group assigns partitions with one number to one member
 * (src/kafka/co-partition-assigner.ts), and the runner processes those partitions one at a time.
 *
 * Errors (src/core/errors.ts), classified at the client's edge:
 * - SystemError: the target or configuration is wrong for every record — bad API key, missing
 *   collection, a collection whose dimension or distance differs from the embedder's, a vector of
 *   the wrong size.
 * - RetryableError: network failure, timeout, 5xx, 429.
 * - PermanentError: the target refused this record for a reason of its own (other 4xx).
 */
export interface VectorStore {
  /** Opens connections; no I/O happens before this. */
  connect(): Promise<void>;
  close(): Promise<void>;
  /**
   * Creates the collection (points and heads) and payload indexes when missing, recording the
   * model id. An existing collection with another dimension, distance or model is a SystemError
   * naming both: re-embedding into a new collection is the way to change models, never a
   * per-record failure.
   */
  ensureCollection(spec: CollectionSpec): Promise<void>;
  /**
   * Writes one document's vectors under the version guard: skipped (`stale`) when the head holds a
   * newer version or a newer delete marker; otherwise upserts one point per chunk, deletes the
   * document's points whose chunks are no longer in the set, and writes the head. A `touch` set
   * (unchanged text, vectors from the embedding cache) is applied the same way; a touch that
   * carries no chunks updates the payload and version of the points already stored instead. A
   * non-touch set without chunks (a document with no text left) removes all its points.
   */
  applyVectorSet(set: VectorSetRecord): Promise<ApplyResult>;
  /** Deletes every point of a document and leaves the head as a delete marker; guarded like a save. */
  deleteDocument(docKey: string, version: bigint, deletedAt: number): Promise<ApplyResult>;
  /**
   * Payload-only update (no re-embedding) of every point of a product, guarded by the aspect's own
   * version kept in the head. When the document has no points yet (or is deleted) the aspect is
   * still remembered in the head, and a later save overlays its fields when the aspect's version is
   * not older than the save's (`source_version`s of one source share a clock). For the same reason
   * an aspect older than the stored save changes no point: the save's own values are newer. So the
   * payload ends the same whatever order saves and aspects arrive in.
   */
  applyAspect(update: AspectUpdate): Promise<ApplyResult>;
  /**
   * Applies the writes of one slice (the records of one partition, in offset order) as one guarded
   * batch (docs/design.md §8): the heads of every document in it read in one query, every write
   * checked against the head as the earlier writes of the batch left it, then the points of the
   * whole batch written in one operation per kind and the heads in one. The outcome equals applying
   * the writes one by one in order. A write that is wrong on its own (a vector of the wrong length,
   * unreadable payload) fails alone (`failed`); a failure of the store fails the whole call.
   */
  applyBatch(writes: readonly StoreWrite[]): Promise<BatchResult[]>;
  /**
   * The best `limit` points (chunks) for the query in its mode, best first; the filters apply
   * before ranking. Group them with groupByDocument for one hit per document. A lexical or hybrid
   * search of a collection created before lexical search (no lexical data) is a SystemError
   * (`store_lexical_missing`), and so is a filter on a LanceDB column such a table lacks
   * (`store_filter_unsupported`); a query without the text or vector its mode needs is a TypeError.
   */
  search(query: SearchQuery): Promise<SearchHit[]>;
  /** The head and points of one document, for tests, status and repair tools. */
  getDocument(docKey: string): Promise<StoredDocument>;
  countPoints(filter?: PointFilter): Promise<number>;
  /** Keys of every live (not deleted) document, for the orphan sweep after a full pass. */
  listDocKeys(): Promise<string[]>;
  /**
   * Removes delete markers whose `deleted_at` is before `deletedBefore` (epoch ms) and returns how
   * many. Call it only with a cutoff older than the retry + DLQ window: a stale save that arrives
   * after its marker is gone would bring the document back.
   */
  purgeDeleteMarkers(deletedBefore: number): Promise<number>;
}

/** Distances as Qdrant names them; LanceDB maps `euclid` to `l2`. */
export type Distance = 'cosine' | 'dot' | 'euclid';

export interface CollectionSpec {
  dimension: number;
  distance: Distance;
  /**
   * The embedding model whose vectors the collection holds, recorded when it is created. Vectors
   * of another model are refused even when their dimension matches: two models' vectors in one
   * collection make every search silently wrong.
   */
  modelId: string;
}

export type ApplyResult = { applied: true } | { applied: false; reason: 'stale' };

/** One write of a batch: a document's vectors, its delete, or an aspect of it. */
export type StoreWrite =
  | { kind: 'vectors'; set: VectorSetRecord }
  | { kind: 'delete'; docKey: string; version: bigint; deletedAt: number }
  | { kind: 'aspect'; update: AspectUpdate };

export type BatchResult = ApplyResult | { applied: false; reason: 'failed'; error: unknown };

/** The aspects (`product_price`, `product_stock`) the store applies as payload updates. */
export type Aspect = AspectType;

export interface AspectUpdate {
  /** The product's doc_key (aspect records are keyed like the product). */
  docKey: string;
  aspect: Aspect;
  version: bigint;
  /** Payload fields to set, e.g. `{ price: 12.5, special_price: null }`. */
  fields: Record<string, unknown>;
}

export interface AspectState {
  version: bigint;
  fields: Record<string, unknown>;
}

/** The per-document guard record. */
export interface HeadRecord {
  doc_key: string;
  /** Version of the last applied save or delete; 0n when only aspects were seen. */
  version: bigint;
  deleted: boolean;
  /** Epoch milliseconds of the delete at the source, when `deleted`. */
  deleted_at: number | null;
  aspects: Partial<Record<Aspect, AspectState>>;
}

/**
 * The payload fields every point of a document shares. `source_version` is a decimal string:
 * versions are 64-bit (Magento microsecond timestamps plus an item index) and JSON numbers lose
 * precision above 2^53. Fields of `payload_json` (sku, price, stock…) are spread beside these; the
 * fixed fields win on a clash.
 */
export interface DocumentPayload {
  tenant: string;
  doc_key: string;
  entity_type: string;
  entity_id: string;
  doc_type: string;
  doc_subtype: string | null;
  store_id: number;
  title: string;
  url: string | null;
  text_hash: string;
  source_version: string;
  model_id: string;
  [field: string]: unknown;
}

/** The payload of every point: the document's fields and the chunk's own. */
export interface PointPayload extends DocumentPayload {
  chunk_id: string;
  chunk_index: number;
  text: string;
  chunk_hash: string;
}

export interface PointFilter {
  tenant?: string;
  docType?: string;
  storeId?: number;
  docKey?: string;
}

/**
 * How a search ranks points (config `search.mode`, docs/retrieval.md):
 * - `dense`: nearest vectors to the embedded query;
 * - `lexical`: BM25 over each point's lexical text (see {@link lexicalText}), by the store's own
 *   index (LanceDB's full-text index, Qdrant's `qdrant/bm25` sparse vectors with IDF);
 * - `hybrid`: both, fused by reciprocal rank fusion (k = {@link RRF_K}) inside the store.
 */
export type SearchMode = 'dense' | 'lexical' | 'hybrid';
export const SEARCH_MODES: readonly SearchMode[] = ['dense', 'lexical', 'hybrid'];

/** k of reciprocal rank fusion, 1/(k + rank) per ranking: the value of the RRF paper and of LanceDB's default. */
export const RRF_K = 60;

/**
 * Filters of a search besides the point filter; they read payload fields (product fields: other
 * documents have none, so a price or stock filter leaves only products).
 */
export interface SearchFilter extends PointFilter {
  /** One of the product's `categories` (exact name, e.g. `Jackets & rainwear`). */
  category?: string;
  /** `price` at least this. */
  minPrice?: number;
  /** `price` at most this. */
  maxPrice?: number;
  /** `stock_status`: `in_stock` or `out_of_stock`. */
  stockStatus?: string;
}

export interface SearchQuery extends SearchFilter {
  /** The embedded query; needed by `dense` and `hybrid`. */
  vector?: ArrayLike<number>;
  /** The query's words; needed by `lexical` and `hybrid`. */
  text?: string;
  /** @defaultValue `dense` when only a vector is given, `hybrid` otherwise */
  mode?: SearchMode;
  /** Points (chunks) returned at most. */
  limit: number;
}

export interface SearchHit {
  /** Point id (UUIDv5 of the chunk id). */
  id: string;
  /**
   * Higher is better except for euclid. Dense: Qdrant's convention for both stores, a similarity
   * for cosine and dot, a distance for euclid (lower is closer). Lexical: the BM25 score. Hybrid:
   * the fused RRF score, a sum of 1/(k + rank).
   */
  score: number;
  payload: PointPayload;
}

export interface StoredPoint {
  id: string;
  vector: number[];
  payload: PointPayload;
}

export interface StoredDocument {
  head: HeadRecord | undefined;
  /** Ordered by chunk_index. */
  points: StoredPoint[];
}
