import type { VectorStore } from '../stores/index.js';
import { scanKeys } from '../kafka/key-scan.js';
import { endOffsets, type KafkaClient } from '../kafka/group-offsets.js';

/**
 * The sweep after a complete pass (docs/design.md §5, docs/resync.md "Sweep"): store documents
 * whose keys no source record holds any more (their delete never reached the store: the store
 * was offline and the tombstone was compacted away, or it was lost some other way) are deleted.
 * Marking is by key, not by whether a write happened: a record that changed nothing still counts.
 *
 * A document written by live traffic is never swept, without comparing clocks:
 * 1. the keys of the source topics up to their end offsets E1 are read (marked);
 * 2. the store's live documents are listed; those unmarked and in scope are the candidates, and
 *    their heads (versions) are read;
 * 3. the keys added to the source topics since E1, up to E2 taken now, are marked too;
 * 4. candidates still unmarked are deleted under the version guard, with the version read in 2.
 * A document written before 2 came from a record produced before it, so in 1 or 3; one written
 * after 2 carries a newer version than the one read, so the guard drops the sweep's delete.
 */
export interface SweepOptions {
  kafka: KafkaClient;
  store: VectorStore;
  /** Full names of the topics whose keys are the source of truth. */
  topics: readonly string[];
  /** Which documents may be swept (tenant, types). */
  inScope: (docKey: string) => boolean;
  /** Prefix of the throwaway groups that read the topics. */
  groupPrefix: string;
  signal?: AbortSignal;
  onProgress?: (read: number) => void;
  /** Called between steps 2 and 3; tests use it to write meanwhile. */
  afterCandidates?: () => Promise<void>;
}

export interface SweepResult {
  /** Records read from the source topics. */
  read: number;
  /** Distinct keys the source topics hold. */
  marked: number;
  /** Live documents in scope. */
  live: number;
  /** Documents deleted. */
  swept: string[];
}

/** Documents to sweep: live, in scope, not marked. Pure. */
export function unmarked(live: readonly string[], marked: ReadonlySet<string>, inScope: (docKey: string) => boolean): string[] {
  return live.filter((key) => inScope(key) && !marked.has(key));
}

const DELETES_PER_BATCH = 500;

export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const { kafka, store, topics, inScope } = options;
  const first = await endOffsets(kafka, topics);
  const scanOptions = { ...(options.signal ? { signal: options.signal } : {}) };
  const marked = await scanKeys(kafka, first, undefined, options.groupPrefix, { ...scanOptions, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  const live = (await store.listDocKeys()).filter(inScope);
  const candidates = new Map<string, bigint>();
  for (const key of unmarked(live, marked.keys, inScope)) {
    const head = (await store.getDocument(key)).head;
    if (head !== undefined && !head.deleted) candidates.set(key, head.version);
  }
  await options.afterCandidates?.();
  let read = marked.read;
  if (candidates.size > 0) {
    const later = await scanKeys(kafka, await endOffsets(kafka, topics), first, options.groupPrefix, scanOptions);
    read += later.read;
    for (const key of later.keys) candidates.delete(key);
  }
  const swept: string[] = [];
  const writes = [...candidates].map(([docKey, version]) => ({ kind: 'delete' as const, docKey, version, deletedAt: Date.now() }));
  for (let i = 0; i < writes.length; i += DELETES_PER_BATCH) {
    const batch = writes.slice(i, i + DELETES_PER_BATCH);
    const results = await store.applyBatch(batch);
    results.forEach((result, n) => {
      if (result.applied) swept.push(batch[n]!.docKey);
    });
  }
  return { read, marked: marked.keys.size, live: live.length, swept };
}
