import { classify, SystemError } from '../core/errors.js';
import type { VectorSetRecord } from '../core/records.js';
import { Coalescer } from './coalescer.js';
import { buildPoints, documentPayload, type PointToWrite } from './point-payload.js';
import {
  aspectOverlay,
  headAfterAspect,
  headAfterDelete,
  headAfterSave,
  isAspectStale,
  isLive,
  isStale,
} from './version-guard.js';
import type {
  ApplyResult,
  AspectUpdate,
  BatchResult,
  StoreWrite,
  CollectionSpec,
  HeadRecord,
  PointFilter,
  SearchHit,
  SearchQuery,
  StoredDocument,
  StoredPoint,
  VectorStore,
} from './vector-store.js';

/** What one batch changes in the points collection; every document appears in one list at most. */
export interface PointChanges {
  /** New or rewritten points (complete: vector and payload). */
  upserts: PointToWrite[];
  /** Documents whose points not in `keepIds` are removed (all of them when `keepIds` is empty). */
  replace: Array<{ docKey: string; keepIds: string[] }>;
  /** Payload fields set on every existing point of a document; never creates a point. */
  payload: Array<{ docKey: string; fields: Record<string, unknown> }>;
  /** The write epoch the batch read its heads in (see StoreBackend.writeEpoch). */
  epoch?: number;
}

/**
 * Thrown by a write, before it wrote anything, when the heads its batch read may not be those of
 * the table it is about to write (LanceDB: the alias was followed to another table, or writes of
 * another process were held meanwhile). The batch reads its heads again and decides anew.
 */
export class HeadsOutdatedError extends Error {
  override readonly name = 'HeadsOutdatedError';
}

/**
 * What a store backend (Qdrant, LanceDB) provides: plain reads and writes, no versions. Every
 * write is durable when its promise resolves (Qdrant `wait: true`). Errors are already classified.
 */
export interface StoreBackend {
  readonly name: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  ensureCollection(spec: CollectionSpec): Promise<void>;
  /** The collection's spec once known (after ensureCollection), for an early dimension and model check. */
  knownSpec(): CollectionSpec | undefined;
  /** The heads of the given documents that exist, in one read. */
  readHeads(docKeys: readonly string[]): Promise<Map<string, HeadRecord>>;
  /**
   * Optional: waits until this store may write, and returns a number that grows whenever heads
   * read since may no longer be what the next write meets. A batch takes it before reading its
   * heads and passes it to its writes, which throw HeadsOutdatedError when it is older than theirs.
   * Without it, heads read are taken as current (a collection written by one writer per document).
   */
  writeEpoch?(): Promise<number>;
  /**
   * Writes heads in one operation. `existing` (when given) names the documents among them whose
   * head existed when it was read; the others had none, which lets a backend append instead of
   * merging. Only the document's one writer calls this, so nothing can have written it since.
   */
  writeHeads(heads: readonly HeadRecord[], existing?: ReadonlySet<string>, epoch?: number): Promise<void>;
  /** Applies upserts, then removals, then payload updates, in that order (a backend may split each into parts; a crash between parts converges on replay). */
  writePoints(changes: PointChanges): Promise<void>;
  search(query: SearchQuery): Promise<SearchHit[]>;
  docPoints(docKey: string): Promise<StoredPoint[]>;
  countPoints(filter?: PointFilter): Promise<number>;
  liveDocKeys(): Promise<string[]>;
  /** Heads that are not live: delete markers and aspect-only heads. */
  deadHeads(): Promise<HeadRecord[]>;
  deleteHeads(docKeys: string[]): Promise<void>;
}

/** How one document ends after the writes of a batch that applied to it. */
interface DocPlan {
  head: HeadRecord | undefined;
  headChanged: boolean;
  /** The last save or delete that applied. */
  write?: { kind: 'points'; points: PointToWrite[] } | { kind: 'delete' } | { kind: 'touch'; payload: Record<string, unknown> };
  /** Aspect fields applied after `write` (or, without one, to the points already stored). */
  patch: Record<string, unknown>;
}

const STALE: BatchResult = { applied: false, reason: 'stale' };
const APPLIED: BatchResult = { applied: true };

/**
 * Points (and documents) per combined write at most: a write is built whole in memory (LanceDB
 * takes it as one Arrow table, about 1.6 kB a point at 384 dimensions, twice over while it is
 * serialised), so this bounds the memory and the length of one commit.
 */
const MAX_POINTS_PER_WRITE = 8_000;

/**
 * The version guard around a backend (docs/design.md §2), written once for every store. A batch
 * reads every head it needs at once, folds its writes in order over them (so it decides exactly
 * what applying them one by one would), then writes points and heads in few operations. The order
 * of writes makes a crash safe to replay: points first, then the removal of dropped chunks, then
 * the payload updates, then the heads. A crash before the heads are written leaves the old heads,
 * so the redelivered records apply again (equal or newer versions) and converge.
 *
 * Batches that run at once (partitions of the store stage) share the backend's operations: the
 * head reads, the point writes and the head writes submitted while the previous one of their kind
 * was running go together in one (group commit). Their documents are disjoint (the key locks hold
 * each document for one batch at a time), so a combined write is each batch's write side by side,
 * and every batch still writes its points before its heads.
 */
export class GuardedVectorStore implements VectorStore {
  private readonly locks = new KeyLocks();
  private readonly headReads: Coalescer<readonly string[], Map<string, HeadRecord>>;
  private readonly pointWrites: Coalescer<PointChanges, undefined>;
  private readonly headWrites: Coalescer<{ heads: HeadRecord[]; existing: ReadonlySet<string>; epoch: number | undefined }, undefined>;

  constructor(private readonly backend: StoreBackend) {
    this.headReads = new Coalescer(async (lists) => {
      const heads = await backend.readHeads([...new Set(lists.flat())]);
      return lists.map(() => heads);
    });
    this.pointWrites = new Coalescer(
      async (all) => {
        const epoch = oldest(all.map((c) => c.epoch));
        await backend.writePoints({ upserts: all.flatMap((c) => c.upserts), replace: all.flatMap((c) => c.replace), payload: all.flatMap((c) => c.payload), ...(epoch === undefined ? {} : { epoch }) });
        return all.map(() => undefined);
      },
      { weightOf: (c) => c.upserts.length + c.replace.length + c.payload.length, maxWeight: MAX_POINTS_PER_WRITE, splitOn: refusedAsAWhole },
    );
    this.headWrites = new Coalescer(
      async (all) => {
        const existing = new Set<string>();
        for (const w of all) for (const key of w.existing) existing.add(key);
        await backend.writeHeads(all.flatMap((w) => w.heads), existing, oldest(all.map((w) => w.epoch)));
        return all.map(() => undefined);
      },
      { splitOn: refusedAsAWhole },
    );
  }

  connect(): Promise<void> {
    return this.backend.connect();
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  ensureCollection(spec: CollectionSpec): Promise<void> {
    return this.backend.ensureCollection(spec);
  }

  async applyVectorSet(set: VectorSetRecord): Promise<ApplyResult> {
    return single(await this.applyBatch([{ kind: 'vectors', set }]));
  }

  async deleteDocument(docKey: string, version: bigint, deletedAt: number): Promise<ApplyResult> {
    return single(await this.applyBatch([{ kind: 'delete', docKey, version, deletedAt }]));
  }

  async applyAspect(update: AspectUpdate): Promise<ApplyResult> {
    return single(await this.applyBatch([{ kind: 'aspect', update }]));
  }

  async applyBatch(writes: readonly StoreWrite[]): Promise<BatchResult[]> {
    if (writes.length === 0) return [];
    for (const write of writes) if (write.kind === 'vectors') this.checkModel(write.set);
    const docKeys = [...new Set(writes.map(docKeyOf))];
    // Within one process, batches that share a document run one after the other; across processes
    // the store group's co-partitioned assignment gives a document one writer.
    return this.locks.run(docKeys, async () => {
      for (;;) {
        try {
          return await this.applyLocked(writes, docKeys);
        } catch (error) {
          // Decided on heads that are not the table's any more: decide again on the current ones.
          if (!(error instanceof HeadsOutdatedError)) throw error;
        }
      }
    });
  }

  private async applyLocked(writes: readonly StoreWrite[], docKeys: string[]): Promise<BatchResult[]> {
    const epoch = await this.backend.writeEpoch?.();
    const heads = await this.headReads.submit(docKeys);
    const plans = new Map<string, DocPlan>();
    const planOf = (docKey: string): DocPlan => {
      let plan = plans.get(docKey);
      if (!plan) plans.set(docKey, (plan = { head: heads.get(docKey), headChanged: false, patch: {} }));
      return plan;
    };
    const results = writes.map((write) => fold(planOf(docKeyOf(write)), write));

    const changes: PointChanges = { upserts: [], replace: [], payload: [], ...(epoch === undefined ? {} : { epoch }) };
    const changedHeads: HeadRecord[] = [];
    for (const [docKey, plan] of plans) {
      if (plan.headChanged && plan.head) changedHeads.push(plan.head);
      const patched = Object.keys(plan.patch).length > 0;
      if (plan.write?.kind === 'points') {
        const points = patched ? plan.write.points.map((p) => ({ ...p, payload: { ...p.payload, ...plan.patch } })) : plan.write.points;
        changes.upserts.push(...points);
        changes.replace.push({ docKey, keepIds: points.map((p) => p.id) });
      } else if (plan.write?.kind === 'delete') {
        changes.replace.push({ docKey, keepIds: [] });
      } else if (plan.write?.kind === 'touch') {
        changes.payload.push({ docKey, fields: { ...plan.write.payload, ...plan.patch } });
      } else if (patched && plan.head !== undefined && isLive(plan.head)) {
        // A deleted or not yet saved document has no points; the head still remembers the aspect.
        changes.payload.push({ docKey, fields: plan.patch });
      }
    }
    if (changes.upserts.length > 0 || changes.replace.length > 0 || changes.payload.length > 0) await this.pointWrites.submit(changes);
    if (changedHeads.length > 0) {
      const existing = new Set(changedHeads.filter((head) => heads.has(head.doc_key)).map((head) => head.doc_key));
      await this.headWrites.submit({ heads: changedHeads, existing, epoch });
    }
    return results;
  }

  /** Vectors of another model, or of another size, are wrong for every record: a SystemError. */
  private checkModel(set: VectorSetRecord): void {
    const spec = this.backend.knownSpec();
    if (spec === undefined) return;
    if (spec.dimension !== set.dimension) {
      throw new SystemError(
        `${this.backend.name}: vectors of ${set.doc_key} have dimension ${set.dimension} (model ${set.model_id}) but the collection has ${spec.dimension} (model ${spec.modelId})`,
        { code: 'store_dimension_mismatch' },
      );
    }
    if (spec.modelId !== '' && spec.modelId !== set.model_id) {
      throw new SystemError(
        `${this.backend.name}: vectors of ${set.doc_key} come from model ${set.model_id} but the collection holds vectors of model ${spec.modelId}; ` +
          'use the same embedder as the collection, or fill a new collection with the new model',
        { code: 'store_model_mismatch' },
      );
    }
  }

  search(query: SearchQuery): Promise<SearchHit[]> {
    return this.backend.search(query);
  }

  async getDocument(docKey: string): Promise<StoredDocument> {
    const [heads, points] = await Promise.all([this.backend.readHeads([docKey]), this.backend.docPoints(docKey)]);
    return { head: heads.get(docKey), points: points.sort((a, b) => a.payload.chunk_index - b.payload.chunk_index) };
  }

  countPoints(filter?: PointFilter): Promise<number> {
    return this.backend.countPoints(filter);
  }

  listDocKeys(): Promise<string[]> {
    return this.backend.liveDocKeys();
  }

  async purgeDeleteMarkers(deletedBefore: number): Promise<number> {
    const expired = (await this.backend.deadHeads()).filter(
      (head) => head.deleted && head.deleted_at !== null && head.deleted_at < deletedBefore,
    );
    if (expired.length > 0) await this.backend.deleteHeads(expired.map((head) => head.doc_key));
    return expired.length;
  }
}

/**
 * A combined write the backend refused (a 400 about one point) is tried again per batch, so that
 * only the batch holding the refused write fails: the sink's record isolation then finds the record.
 */
function refusedAsAWhole(error: unknown): boolean {
  return classify(error) === 'permanent';
}

/** The oldest of the epochs of combined writes: the write is refused if any of them is outdated. */
function oldest(epochs: ReadonlyArray<number | undefined>): number | undefined {
  const known = epochs.filter((e): e is number => e !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

function docKeyOf(write: StoreWrite): string {
  return write.kind === 'vectors' ? write.set.doc_key : write.kind === 'delete' ? write.docKey : write.update.docKey;
}

function single(results: BatchResult[]): ApplyResult {
  const [result] = results;
  if (result === undefined) throw new Error('a batch of one write returned no result');
  if (result.applied || result.reason === 'stale') return result;
  throw result.error;
}

/** Applies one write to the document's plan, as applying it alone after the earlier ones would. */
function fold(plan: DocPlan, write: StoreWrite): BatchResult {
  switch (write.kind) {
    case 'vectors': {
      const { set } = write;
      if (isStale(plan.head, set.source_version)) return STALE;
      const overlay = aspectOverlay(plan.head, set.source_version);
      try {
        // Unchanged text and no vectors forwarded: the points stay, their payload and version move on.
        plan.write = set.touch && set.chunks.length === 0 ? { kind: 'touch', payload: documentPayload(set, overlay) } : { kind: 'points', points: buildPoints(set, overlay) };
      } catch (error) {
        return { applied: false, reason: 'failed', error };
      }
      plan.patch = {};
      plan.head = headAfterSave(plan.head, set.doc_key, set.source_version);
      plan.headChanged = true;
      return APPLIED;
    }
    case 'delete': {
      if (isStale(plan.head, write.version)) return STALE;
      plan.write = { kind: 'delete' };
      plan.patch = {};
      plan.head = headAfterDelete(plan.head, write.docKey, write.version, write.deletedAt);
      plan.headChanged = true;
      return APPLIED;
    }
    case 'aspect': {
      const { update } = write;
      if (isAspectStale(plan.head, update.aspect, update.version)) return STALE;
      // An aspect older than the stored save is remembered but not shown: that save carried its
      // own, newer values (versions of one source share a clock), whatever order they arrived in.
      if (plan.head === undefined || update.version >= plan.head.version) plan.patch = { ...plan.patch, ...update.fields };
      plan.head = headAfterAspect(plan.head, update);
      plan.headChanged = true;
      return APPLIED;
    }
  }
}

/**
 * Async locks per document key. A caller takes all its keys in sorted order, so two callers with
 * overlapping keys can never wait for each other in a circle.
 */
class KeyLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const releases: Array<() => void> = [];
    for (const key of [...keys].sort()) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const tail = previous.then(() => mine);
      this.tails.set(key, tail);
      await previous;
      releases.push(() => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    }
    try {
      return await task();
    } finally {
      for (const release of releases) release();
    }
  }
}
