import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import { SystemError } from '../../core/errors.js';
import type { PointChanges, StoreBackend } from '../guarded-store.js';
import { headId, lexicalText } from '../point-payload.js';
import { searchPlan } from '../search-plan.js';
import { decodeHead, encodeHead, isLive } from '../version-guard.js';
import { RRF_K, type CollectionSpec, type Distance, type HeadRecord, type PointFilter, type PointPayload, type SearchHit, type SearchQuery, type StoredPoint } from '../vector-store.js';
import { qdrantCall } from './errors.js';
import { deadHeadsFilter, docFilter, docFilterExcept, liveHeadsFilter, toQdrantFilter } from './filters.js';

export interface QdrantStoreOptions {
  url: string;
  apiKey?: string | undefined;
  /** Points collection; heads live in `<collection>_heads`. */
  collection: string;
  /** Per-request timeout in milliseconds. @defaultValue 30000 */
  timeoutMs?: number;
}

const DISTANCES: Record<Distance, Schemas['Distance']> = { cosine: 'Cosine', dot: 'Dot', euclid: 'Euclid' };
const PAGE = 256;
/** Collection metadata key holding the embedding model id. */
const MODEL_METADATA = 'ragsync_model_id';
/**
 * The sparse vector of each point's lexical text (lexicalText), computed by Qdrant itself from the
 * text with its `qdrant/bm25` model (server-side BM25 of recent Qdrant; the store is checked
 * against the 1.19 API); the collection applies IDF (`modifier: idf`), which makes the scores BM25.
 */
const LEXICAL_VECTOR = 'bm25';
const BM25_MODEL = 'qdrant/bm25';
const bm25 = (text: string): Schemas['Document'] => ({ text, model: BM25_MODEL });

/** Payload indexes of the points collection (docs/design.md §3): tenant first, as Qdrant's tenant key. */
const POINT_INDEXES: Array<[string, Schemas['PayloadFieldSchema']]> = [
  ['tenant', { type: 'keyword', is_tenant: true }],
  ['doc_key', 'keyword'],
  ['entity_type', 'keyword'],
  ['doc_type', 'keyword'],
  ['store_id', 'integer'],
  ['categories', 'keyword'],
  ['price', 'float'],
  ['stock_status', 'keyword'],
];

/**
 * Qdrant over REST. Heads are points without vectors in `<collection>_heads` (created with an empty
 * `vectors` map), id UUIDv5(doc_key). Every write passes `wait: true`: the head is written only
 * after the points are durable, and the caller commits its offset only after that.
 */
/** A point of PointChanges.upserts. */
type StoredPointWrite = PointChanges['upserts'][number];

/**
 * Points per write request: about 4 MiB of dense vectors as JSON (a float32 takes up to about 20
 * characters written as a JSON number), at most 1,000. Qdrant refuses a request over
 * `service.max_request_size_mb` (32 MiB by default), and the request's text, its body and the
 * points' number arrays are all held at once: 2,000 points of 1,536 dimensions would be 60 MB.
 */
export function pointsPerRequest(dimension: number): number {
  return Math.max(1, Math.min(1000, Math.floor((4 * 1024 * 1024) / (20 * Math.max(1, dimension)))));
}

export class QdrantBackend implements StoreBackend {
  readonly name = 'qdrant';
  private readonly client: QdrantClient;
  private readonly heads: string;
  private spec: CollectionSpec | undefined;
  /**
   * Whether the points collection has the lexical sparse vector. Collections created before it
   * existed have none (the store does not reconfigure a collection): their points are written
   * without it, and a lexical or hybrid search of them is refused. Undefined until read.
   */
  private lexical: boolean | undefined;

  constructor(private readonly options: QdrantStoreOptions) {
    // No I/O here; the compatibility check would call the server from the constructor.
    this.client = new QdrantClient({
      url: options.url,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      timeout: options.timeoutMs ?? 30_000,
      checkCompatibility: false,
    });
    this.heads = `${options.collection}_heads`;
  }

  async connect(): Promise<void> {
    // One cheap authenticated call, so a wrong URL or API key fails at start.
    await qdrantCall('connect', () => this.client.collectionExists(this.options.collection));
  }

  async close(): Promise<void> {}

  knownSpec(): CollectionSpec | undefined {
    return this.spec;
  }

  async ensureCollection(spec: CollectionSpec): Promise<void> {
    const { collection } = this.options;
    const created = await this.createIfMissing(collection, {
      vectors: { size: spec.dimension, distance: DISTANCES[spec.distance] },
      sparse_vectors: { [LEXICAL_VECTOR]: { modifier: 'idf' } },
      metadata: { [MODEL_METADATA]: spec.modelId },
    });
    if (created) {
      for (const [field_name, field_schema] of POINT_INDEXES) {
        await qdrantCall('create payload index', () => this.client.createPayloadIndex(collection, { wait: true, field_name, field_schema }));
      }
    }
    if (await this.createIfMissing(this.heads, { vectors: {} })) {
      await qdrantCall('create payload index', () => this.client.createPayloadIndex(this.heads, { wait: true, field_name: 'live', field_schema: 'bool' }));
    }
    const info = await qdrantCall('get collection', () => this.client.getCollection(collection));
    const vectors = info.config.params.vectors as Schemas['VectorParams'] | undefined;
    if (vectors?.size !== spec.dimension || vectors.distance !== DISTANCES[spec.distance]) {
      throw new SystemError(
        `qdrant collection "${collection}" has dimension ${vectors?.size} and distance ${vectors?.distance}; ` +
          `the embedder needs ${spec.dimension} and ${DISTANCES[spec.distance]}: use a new collection`,
        { code: 'store_dimension_mismatch' },
      );
    }
    this.lexical = info.config.params.sparse_vectors?.[LEXICAL_VECTOR] !== undefined;
    const recorded = (info.config.metadata as Record<string, unknown> | null | undefined)?.[MODEL_METADATA];
    if (typeof recorded === 'string' && recorded !== spec.modelId) {
      throw new SystemError(
        `qdrant collection "${collection}" holds vectors of model ${recorded}; the embedder is ${spec.modelId}: ` +
          'use the same embedder, or fill a new collection (RAGSYNC_COLLECTION) with the new model',
        { code: 'store_model_mismatch' },
      );
    }
    if (recorded === undefined) {
      // A collection from before the model was recorded: it takes the model of its first worker.
      await qdrantCall('update collection', () => this.client.updateCollection(collection, { metadata: { [MODEL_METADATA]: spec.modelId } }));
    }
    this.spec = spec;
  }

  /** Creates the collection unless it exists; true when this call created it. */
  private async createIfMissing(name: string, body: Schemas['CreateCollection']): Promise<boolean> {
    const { exists } = await qdrantCall('collection exists', () => this.client.collectionExists(name));
    if (exists) return false;
    try {
      await qdrantCall('create collection', () => this.client.createCollection(name, body));
      return true;
    } catch (error) {
      // Another worker created it between our check and our call.
      if ((await qdrantCall('collection exists', () => this.client.collectionExists(name))).exists) return false;
      throw error;
    }
  }

  async readHeads(docKeys: readonly string[]): Promise<Map<string, HeadRecord>> {
    const found = new Map<string, HeadRecord>();
    if (docKeys.length === 0) return found;
    const records = await qdrantCall('read heads', () =>
      this.client.retrieve(this.heads, { ids: docKeys.map(headId), with_payload: true, with_vector: false }),
    );
    for (const record of records) {
      if (record.payload === undefined || record.payload === null) continue;
      const head = decodeHead(record.payload.head);
      found.set(head.doc_key, head);
    }
    return found;
  }

  async writeHeads(heads: readonly HeadRecord[]): Promise<void> {
    const points = heads.map((head) => ({ id: headId(head.doc_key), vector: {}, payload: { doc_key: head.doc_key, live: isLive(head), head: encodeHead(head) } }));
    await qdrantCall('write heads', () => this.client.upsert(this.heads, { wait: true, points }));
  }

  /**
   * The batch in as few requests as its size allows: Qdrant's batch update applies its operations
   * in order (upsert, then the removal of superseded points, then payload updates), and `wait`
   * returns once all are applied. A batch with more points than one request should carry
   * (pointsPerRequest) sends the others first, in order, each on its own: superseded points are
   * still removed only after every new point is stored.
   */
  async writePoints(changes: PointChanges): Promise<void> {
    const operations: Schemas['UpdateOperation'][] = [];
    const upserts = changes.upserts;
    if (upserts.length > 0) {
      const lexical = await this.hasLexical();
      // JSON has no float32 arrays: plain numbers (a Float32Array would serialise as an object).
      // The lexical vector goes as its text: Qdrant computes the BM25 sparse vector on its side.
      const upsert = (points: readonly StoredPointWrite[]): Schemas['UpdateOperation'] => ({
        upsert: {
          points: points.map((p) => ({
            id: p.id,
            vector: lexical ? { '': Array.from(p.vector), [LEXICAL_VECTOR]: bm25(lexicalText(p.payload)) } : Array.from(p.vector),
            payload: p.payload,
          })),
        },
      });
      const per = pointsPerRequest(upserts[0]!.vector.length);
      let start = 0;
      for (; upserts.length - start > per; start += per) {
        const part = upsert(upserts.slice(start, start + per));
        await qdrantCall('write points', () => this.client.batchUpdate(this.options.collection, { wait: true, operations: [part] }));
      }
      operations.push(upsert(start === 0 ? upserts : upserts.slice(start)));
    }
    if (changes.replace.length > 0) {
      const filter = changes.replace.length === 1 ? docFilterExcept(changes.replace[0]!.docKey, changes.replace[0]!.keepIds) : { should: changes.replace.map((r) => docFilterExcept(r.docKey, r.keepIds)) };
      operations.push({ delete: { filter } });
    }
    for (const { docKey, fields } of changes.payload) operations.push({ set_payload: { payload: fields, filter: docFilter(docKey) } });
    if (operations.length === 0) return;
    await qdrantCall('write points', () => this.client.batchUpdate(this.options.collection, { wait: true, operations }));
  }

  /**
   * One Query API request. Dense: nearest to the vector. Lexical: BM25 by the sparse vector of the
   * query's text. Hybrid: both as prefetches of `limit` points each, fused by Qdrant with RRF
   * (k = RRF_K); the filter applies to both prefetches.
   */
  async search(query: SearchQuery): Promise<SearchHit[]> {
    const plan = searchPlan(query);
    if (plan.mode !== 'dense' && !(await this.hasLexical())) {
      throw new SystemError(
        `qdrant collection "${this.options.collection}" has no ${LEXICAL_VECTOR} sparse vector (created before lexical search): search it with mode dense, or fill a new collection`,
        { code: 'store_lexical_missing' },
      );
    }
    const filter = toQdrantFilter(query);
    const filtered = filter === undefined ? {} : { filter };
    const dense = (vector: ArrayLike<number>) => ({ query: Array.from(vector) });
    const lexical = (text: string) => ({ query: bm25(text), using: LEXICAL_VECTOR });
    const request: Schemas['QueryRequest'] =
      plan.mode === 'dense'
        ? dense(plan.vector)
        : plan.mode === 'lexical'
          ? lexical(plan.text)
          : { prefetch: [{ ...dense(plan.vector), limit: query.limit, ...filtered }, { ...lexical(plan.text), limit: query.limit, ...filtered }], query: { rrf: { k: RRF_K } } };
    const response = await qdrantCall('query points', () =>
      this.client.query(this.options.collection, { ...request, limit: query.limit, with_payload: true, ...filtered }),
    );
    return response.points.map((point) => ({ id: String(point.id), score: point.score, payload: point.payload as PointPayload }));
  }

  private async hasLexical(): Promise<boolean> {
    if (this.lexical === undefined) {
      const info = await qdrantCall('get collection', () => this.client.getCollection(this.options.collection));
      this.lexical = info.config.params.sparse_vectors?.[LEXICAL_VECTOR] !== undefined;
    }
    return this.lexical;
  }

  async docPoints(docKey: string): Promise<StoredPoint[]> {
    const records = await this.scrollAll(this.options.collection, docFilter(docKey), true, true);
    return records.map((record) => ({
      id: String(record.id),
      vector: record.vector as number[],
      payload: record.payload as PointPayload,
    }));
  }

  async countPoints(filter?: PointFilter): Promise<number> {
    const qdrantFilter = toQdrantFilter(filter);
    const result = await qdrantCall('count points', () =>
      this.client.count(this.options.collection, { exact: true, ...(qdrantFilter === undefined ? {} : { filter: qdrantFilter }) }),
    );
    return result.count;
  }

  async liveDocKeys(): Promise<string[]> {
    const records = await this.scrollAll(this.heads, liveHeadsFilter, ['doc_key'], false);
    return records.map((record) => String(record.payload?.doc_key)).sort();
  }

  async deadHeads(): Promise<HeadRecord[]> {
    const records = await this.scrollAll(this.heads, deadHeadsFilter, true, false);
    return records.map((record) => decodeHead(record.payload?.head));
  }

  async deleteHeads(docKeys: string[]): Promise<void> {
    await qdrantCall('delete heads', () => this.client.delete(this.heads, { wait: true, points: docKeys.map(headId) }));
  }

  private async scrollAll(
    collection: string,
    filter: Schemas['Filter'],
    withPayload: Schemas['WithPayloadInterface'],
    withVector: boolean,
  ): Promise<Schemas['Record'][]> {
    const records: Schemas['Record'][] = [];
    let offset: Schemas['ExtendedPointId'] | null | undefined;
    do {
      const page = await qdrantCall('scroll points', () =>
        this.client.scroll(collection, {
          filter,
          limit: PAGE,
          with_payload: withPayload,
          with_vector: withVector,
          ...(offset === undefined || offset === null ? {} : { offset }),
        }),
      );
      records.push(...page.points);
      // The API types a page offset as an id; an object here would be a server bug.
      offset = page.next_page_offset as Schemas['ExtendedPointId'] | null | undefined;
    } while (offset !== undefined && offset !== null);
    return records;
  }
}
