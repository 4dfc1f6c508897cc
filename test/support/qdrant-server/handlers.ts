import type { ImplementedOperation } from './api-schema.js';
import { QdrantHttpError, type DistanceName, type Engine, type StoredPoint } from './engine.js';
import type { Payload } from './filter.js';

/**
 * One handler per implemented operation; each returns the `result` of Qdrant's response envelope.
 * Bodies arrive already validated against the published schema, so handlers only check what the
 * schema cannot (sizes, existence) and reject what this server does not implement.
 */
export interface RequestParts {
  path: Record<string, string>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
}

type Handler = (engine: Engine, request: RequestParts) => unknown;

function unsupported(what: string): never {
  throw new QdrantHttpError(400, `the test server does not implement ${what}`);
}

function selectPayload(payload: Payload, withPayload: unknown): Payload | undefined {
  if (withPayload === undefined || withPayload === false || withPayload === null) return undefined;
  if (withPayload === true) return payload;
  const include = Array.isArray(withPayload) ? withPayload : (withPayload as { include?: string[] }).include;
  const exclude = (withPayload as { exclude?: string[] }).exclude;
  if (Array.isArray(include)) return Object.fromEntries(Object.entries(payload).filter(([key]) => include.includes(key)));
  if (Array.isArray(exclude)) return Object.fromEntries(Object.entries(payload).filter(([key]) => !exclude.includes(key)));
  return unsupported(`with_payload ${JSON.stringify(withPayload)}`);
}

function record(point: StoredPoint, withPayload: unknown, withVector: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { id: point.id };
  const payload = selectPayload(point.payload, withPayload);
  if (payload !== undefined) out.payload = payload;
  if (withVector === true) out.vector = point.vector ?? {};
  else if (withVector !== undefined && withVector !== false && withVector !== null) unsupported('named vector selection');
  return out;
}

const completed = (operationId: number) => ({ operation_id: operationId, status: 'completed' });

function selected(engine: Engine, collection: string, body: Record<string, unknown>): StoredPoint[] {
  if (body.shard_key !== undefined && body.shard_key !== null) unsupported('shard keys');
  if (Array.isArray(body.points)) return engine.byIds(collection, body.points);
  if (body.filter !== undefined && body.filter !== null) return engine.select(collection, body.filter);
  return unsupported('a points selector without points or filter');
}

function collectionInfo(engine: Engine, name: string): unknown {
  const collection = engine.collection(name);
  const payloadSchema = Object.fromEntries(
    [...collection.indexes.entries()].map(([field, schema]) => {
      const type = typeof schema === 'string' ? schema : (schema as { type: string }).type;
      const params = typeof schema === 'string' ? undefined : schema;
      return [field, { data_type: type, points: collection.points.size, ...(params === undefined ? {} : { params }) }];
    }),
  );
  return {
    status: 'green',
    optimizer_status: 'ok',
    points_count: collection.points.size,
    indexed_vectors_count: 0,
    segments_count: 1,
    config: {
      params: { vectors: collection.vectors ?? {}, shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true },
      hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      optimizer_config: { deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, indexing_threshold: 10000, flush_interval_sec: 5 },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
    },
    payload_schema: payloadSchema,
  };
}

export const HANDLERS: Record<ImplementedOperation, Handler> = {
  root: () => ({ title: 'qdrant - vector search engine', version: '1.19.0' }),
  collection_exists: (engine, { path }) => ({ exists: engine.collections.has(path.collection_name!) }),
  get_collection: (engine, { path }) => collectionInfo(engine, path.collection_name!),
  delete_collection: (engine, { path }) => engine.collections.delete(path.collection_name!),
  create_collection: (engine, { path, body }) => {
    const vectors = body.vectors as { size?: number; distance?: DistanceName } | Record<string, unknown> | undefined;
    if (vectors === undefined || Object.keys(vectors).length === 0) engine.create(path.collection_name!, undefined);
    else if (typeof vectors.size === 'number' && typeof vectors.distance === 'string') {
      engine.create(path.collection_name!, { size: vectors.size, distance: vectors.distance as DistanceName });
    } else unsupported('named vectors');
    return true;
  },
  create_field_index: (engine, { path, body }) => {
    const collection = engine.collection(path.collection_name!);
    if (body.field_schema === undefined || body.field_schema === null) unsupported('an index without field_schema');
    collection.indexes.set(body.field_name as string, body.field_schema);
    return completed(++collection.operationId);
  },
  upsert_points: (engine, { path, body }) => {
    if (!Array.isArray(body.points)) unsupported('batch upserts');
    if (body.shard_key !== undefined && body.shard_key !== null) unsupported('shard keys');
    return completed(engine.upsert(path.collection_name!, body.points as Array<{ id: unknown; vector: unknown; payload?: Payload }>));
  },
  get_points: (engine, { path, body }) =>
    engine.byIds(path.collection_name!, body.ids as unknown[]).map((point) => record(point, body.with_payload ?? true, body.with_vector ?? false)),
  delete_points: (engine, { path, body }) => {
    const name = path.collection_name!;
    return completed(engine.remove(name, selected(engine, name, body)));
  },
  set_payload: (engine, { path, body }) => {
    if (body.key !== undefined && body.key !== null) unsupported('set_payload with a key');
    const name = path.collection_name!;
    return completed(engine.setPayload(name, selected(engine, name, body), body.payload as Payload));
  },
  scroll_points: (engine, { path, body }) => {
    if (body.order_by !== undefined && body.order_by !== null) unsupported('order_by');
    const limit = (body.limit as number | undefined) ?? 10;
    let points = engine.select(path.collection_name!, body.filter);
    if (body.offset !== undefined && body.offset !== null) {
      const start = points.findIndex((point) => point.id === body.offset);
      points = start < 0 ? [] : points.slice(start);
    }
    return {
      points: points.slice(0, limit).map((point) => record(point, body.with_payload ?? true, body.with_vector ?? false)),
      next_page_offset: points[limit]?.id ?? null,
    };
  },
  count_points: (engine, { path, body }) => ({ count: engine.select(path.collection_name!, body.filter).length }),
  query_points: (engine, { path, body }) => {
    for (const field of ['prefetch', 'using', 'lookup_from', 'shard_key', 'params']) {
      if (body[field] !== undefined && body[field] !== null) unsupported(`query with ${field}`);
    }
    const query = body.query;
    const vector = Array.isArray(query) ? query : (query as { nearest?: unknown } | undefined)?.nearest;
    if (!Array.isArray(vector) || vector.some((value) => typeof value !== 'number')) unsupported('queries other than a nearest dense vector');
    const hits = engine.nearest(path.collection_name!, vector as number[], body.filter, (body.limit as number | undefined) ?? 10, (body.offset as number | undefined) ?? 0);
    const threshold = body.score_threshold as number | undefined | null;
    return {
      points: hits
        .filter((hit) => threshold === undefined || threshold === null || hit.score >= threshold)
        .map((hit) => ({ ...record(hit.point, body.with_payload ?? false, body.with_vector ?? false), version: hit.point.version, score: hit.score })),
    };
  },
};
