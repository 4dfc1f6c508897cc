import type { Config } from '../config/schema.js';
import { createLanceDbStore } from './lancedb/index.js';
import { createQdrantStore } from './qdrant/index.js';
import type { CollectionSpec, VectorStore } from './vector-store.js';
import { LanceDbAliases } from './lancedb/alias.js';
import { QdrantAliases } from './qdrant/alias.js';

export type * from './vector-store.js';
export { RRF_K, SEARCH_MODES } from './vector-store.js';
export { groupByDocument, type DocumentHit } from './group-hits.js';
export { createLanceDbStore } from './lancedb/index.js';
export { createQdrantStore } from './qdrant/index.js';

/**
 * The configured vector store: Qdrant when `store.qdrantUrl` (QDRANT_URL) is set, else LanceDB on
 * local disk under `store.lancedbPath`. Both use `store.collection` as the collection name. No I/O
 * until `connect()`.
 */
export function createVectorStore(config: Config['store']): VectorStore {
  if (config.qdrantUrl !== undefined) {
    return createQdrantStore({ url: config.qdrantUrl, apiKey: config.qdrantApiKey, collection: config.collection });
  }
  return createLanceDbStore({ path: config.lancedbPath, collection: config.collection });
}

/**
 * Aliases of the configured store (`resync --into`): a collection name standing for a collection of
 * another name, switched atomically. Qdrant's own aliases; for LanceDB a pointer file that the
 * LanceDB store follows (src/stores/lancedb/alias.ts).
 */
export interface CollectionAliases {
  readonly kind: 'lancedb' | 'qdrant';
  /** The collection `name` stands for now (itself when it is no alias); undefined when there is none. */
  resolve(name: string): Promise<string | undefined>;
  /** Whether a collection (points and heads, not an alias) of this name exists. */
  exists(collection: string): Promise<boolean>;
  /** Whether the name is an alias or the target of one. */
  isAliased(name: string): Promise<boolean>;
  /** Size, distance and model of an existing collection. */
  spec(collection: string): Promise<CollectionSpec | undefined>;
  /**
   * Points `name` at `collection` in one step; `adopted` when a collection of that name had to go
   * first (Qdrant). `holdWritesMs`: other processes' stores wait before writing (LanceDB, whose
   * tables take one writer per document) until {@link releaseWrites} or the time runs out.
   */
  switch(name: string, collection: string, options?: { holdWritesMs?: number }): Promise<{ previous: string; adopted: boolean }>;
  releaseWrites(name: string): Promise<void>;
  close(): Promise<void>;
}

export function createCollectionAliases(config: Config['store']): CollectionAliases {
  if (config.qdrantUrl !== undefined) return new QdrantAliases({ url: config.qdrantUrl, apiKey: config.qdrantApiKey }) as CollectionAliases;
  return new LanceDbAliases(config.lancedbPath) as CollectionAliases;
}
