import type { Config } from '../config/schema.js';
import { createLanceDbStore } from './lancedb/index.js';
import { createQdrantStore } from './qdrant/index.js';
import type { VectorStore } from './vector-store.js';

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
