import { GuardedVectorStore } from '../guarded-store.js';
import type { VectorStore } from '../vector-store.js';
import { QdrantBackend, type QdrantStoreOptions } from './qdrant-backend.js';

export type { QdrantStoreOptions } from './qdrant-backend.js';

/** A Qdrant store over REST. No I/O until `connect()`. */
export function createQdrantStore(options: QdrantStoreOptions): VectorStore {
  return new GuardedVectorStore(new QdrantBackend(options));
}
