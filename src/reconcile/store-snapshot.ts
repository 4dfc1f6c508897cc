import { parseKey } from '../core/keys.js';
import type { VectorStore } from '../stores/vector-store.js';
import type { StoreEntry } from './types.js';

export interface StoreSnapshotOptions {
  /** Which live documents belong to the comparison (by tenant, entity type, store id). */
  inScope: (entity: { tenant: string; entityType: string; storeId: number }) => boolean;
  /** Keys read besides the live ones in scope: the source's, so a delete marker's version is known. */
  alsoRead: Iterable<string>;
  onProgress?: (read: number, total: number) => void;
  /** Documents read at once. @defaultValue 8 */
  concurrency?: number;
}

/**
 * The store's side: every live document in scope (`listDocKeys`), and the head of each other key
 * the source names, each with its version and its points' text hash (`getDocument`). Read through
 * the store's own API, so it works the same for Qdrant and LanceDB.
 */
export async function readStoreSnapshot(store: VectorStore, options: StoreSnapshotOptions): Promise<Map<string, StoreEntry>> {
  const keys = new Set<string>();
  for (const key of await store.listDocKeys()) {
    let entity;
    try {
      entity = parseKey(key);
    } catch {
      continue; // not a ragsync key: nothing a source can name
    }
    if (options.inScope(entity)) keys.add(key);
  }
  for (const key of options.alsoRead) keys.add(key);
  const list = [...keys];
  const entries = new Map<string, StoreEntry>();
  let done = 0;
  let next = 0;
  options.onProgress?.(0, list.length);
  const worker = async () => {
    while (next < list.length) {
      const key = list[next++]!;
      const { head, points } = await store.getDocument(key);
      if (head !== undefined && (head.version > 0n || points.length > 0)) {
        const textHash = points.length > 0 ? String(points[0]!.payload.text_hash) : null;
        entries.set(key, { key, version: head.version, deleted: head.deleted, textHash, points: points.length });
      }
      done++;
      if (done % 100 === 0 || done === list.length) options.onProgress?.(done, list.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, Math.max(1, list.length)) }, worker));
  return entries;
}
