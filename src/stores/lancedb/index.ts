import { GuardedVectorStore } from '../guarded-store.js';
import type { VectorStore } from '../vector-store.js';
import { LanceDbBackend, type LanceDbStoreOptions } from './lancedb-backend.js';

export type { LanceDbStoreOptions } from './lancedb-backend.js';

/** A LanceDB store on local disk. No I/O until `connect()`. */
export function createLanceDbStore(options: LanceDbStoreOptions): VectorStore {
  return new GuardedVectorStore(new LanceDbBackend(options));
}
