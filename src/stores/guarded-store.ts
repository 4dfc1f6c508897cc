import { SystemError } from '../core/errors.js';
import type { VectorSetRecord } from '../core/records.js';
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
  CollectionSpec,
  HeadRecord,
  PointFilter,
  SearchHit,
  SearchQuery,
  StoredDocument,
  StoredPoint,
  VectorStore,
} from './vector-store.js';

/**
 * What a store backend (Qdrant, LanceDB) provides: plain reads and writes, no versions. Every
 * write is durable when its promise resolves (Qdrant `wait: true`). Errors are already classified.
 */
export interface StoreBackend {
  readonly name: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  ensureCollection(spec: CollectionSpec): Promise<void>;
  /** The collection's spec once known (after ensureCollection), for an early dimension check. */
  knownSpec(): CollectionSpec | undefined;
  readHead(docKey: string): Promise<HeadRecord | undefined>;
  writeHead(head: HeadRecord): Promise<void>;
  upsertPoints(points: PointToWrite[]): Promise<void>;
  /** Deletes the document's points whose ids are not in `keepIds` (all of them when empty). */
  deleteDocPointsExcept(docKey: string, keepIds: string[]): Promise<void>;
  /** Sets payload fields on every point of the document, keeping vectors and other fields. */
  setDocPayload(docKey: string, fields: Record<string, unknown>): Promise<void>;
  search(query: SearchQuery): Promise<SearchHit[]>;
  docPoints(docKey: string): Promise<StoredPoint[]>;
  countPoints(filter?: PointFilter): Promise<number>;
  liveDocKeys(): Promise<string[]>;
  /** Heads that are not live: delete markers and aspect-only heads. */
  deadHeads(): Promise<HeadRecord[]>;
  deleteHeads(docKeys: string[]): Promise<void>;
}

const STALE: ApplyResult = { applied: false, reason: 'stale' };
const APPLIED: ApplyResult = { applied: true };

/**
 * The version guard around a backend (docs/design.md §2), written once for every store. The order of
 * writes makes a crash safe to replay: points first, then the removal of dropped chunks, then the
 * head. A crash before the head is written leaves the old head, so the redelivered record applies
 * again (equal or newer version) and converges.
 */
export class GuardedVectorStore implements VectorStore {
  constructor(private readonly backend: StoreBackend) {}

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
    const spec = this.backend.knownSpec();
    if (spec !== undefined && spec.dimension !== set.dimension) {
      throw new SystemError(
        `${this.backend.name}: vectors of ${set.doc_key} have dimension ${set.dimension} (model ${set.model_id}) but the collection has ${spec.dimension}`,
        { code: 'store_dimension_mismatch' },
      );
    }
    const head = await this.backend.readHead(set.doc_key);
    if (isStale(head, set.source_version)) return STALE;
    const overlay = aspectOverlay(head, set.source_version);
    if (set.touch && set.chunks.length === 0) {
      // Unchanged text and no vectors forwarded: the points stay, their payload and version move on.
      await this.backend.setDocPayload(set.doc_key, documentPayload(set, overlay));
      await this.backend.writeHead(headAfterSave(head, set.doc_key, set.source_version));
      return APPLIED;
    }
    const points = buildPoints(set, overlay);
    if (points.length > 0) await this.backend.upsertPoints(points);
    await this.backend.deleteDocPointsExcept(set.doc_key, points.map((point) => point.id));
    await this.backend.writeHead(headAfterSave(head, set.doc_key, set.source_version));
    return APPLIED;
  }

  async deleteDocument(docKey: string, version: bigint, deletedAt: number): Promise<ApplyResult> {
    const head = await this.backend.readHead(docKey);
    if (isStale(head, version)) return STALE;
    await this.backend.deleteDocPointsExcept(docKey, []);
    await this.backend.writeHead(headAfterDelete(head, docKey, version, deletedAt));
    return APPLIED;
  }

  async applyAspect(update: AspectUpdate): Promise<ApplyResult> {
    const head = await this.backend.readHead(update.docKey);
    if (isAspectStale(head, update.aspect, update.version)) return STALE;
    // A deleted or not yet saved document has no points; the head still remembers the aspect.
    if (head !== undefined && isLive(head)) {
      await this.backend.setDocPayload(update.docKey, update.fields);
    }
    await this.backend.writeHead(headAfterAspect(head, update));
    return APPLIED;
  }

  search(query: SearchQuery): Promise<SearchHit[]> {
    return this.backend.search(query);
  }

  async getDocument(docKey: string): Promise<StoredDocument> {
    const [head, points] = await Promise.all([this.backend.readHead(docKey), this.backend.docPoints(docKey)]);
    return { head, points: points.sort((a, b) => a.payload.chunk_index - b.payload.chunk_index) };
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
