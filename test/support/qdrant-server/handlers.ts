import type { ImplementedOperation } from './api-schema.js';
import { QdrantHttpError, type Engine, type PointOperation, type ShardInfo } from './engine.js';

/**
 * One handler per implemented operation; each returns the `result` of Qdrant's response envelope.
 * Bodies arrive already validated against the published schema. Point operations go to the edge
 * shard unchanged (edge_requests.py maps them, and refuses what the edge cannot do); collection
 * operations are answered here from what the collection was created with and what its shard
 * reports.
 */
export interface RequestParts {
  path: Record<string, string>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
}

type Handler = (engine: Engine, request: RequestParts) => Promise<unknown>;

function collectionInfo(params: Record<string, unknown>, shard: ShardInfo): unknown {
  const given = (key: string, fallback: unknown) => params[key] ?? fallback;
  return {
    status: 'green',
    optimizer_status: 'ok',
    points_count: shard.points_count,
    indexed_vectors_count: shard.indexed_vectors_count,
    segments_count: shard.segments_count,
    config: {
      params: {
        vectors: given('vectors', {}),
        ...(params.sparse_vectors === undefined || params.sparse_vectors === null ? {} : { sparse_vectors: params.sparse_vectors }),
        shard_number: given('shard_number', 1),
        replication_factor: given('replication_factor', 1),
        write_consistency_factor: given('write_consistency_factor', 1),
        on_disk_payload: given('on_disk_payload', true),
      },
      hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
      optimizer_config: { deleted_threshold: 0.2, vacuum_min_vector_number: 1000, default_segment_number: 0, indexing_threshold: 10000, flush_interval_sec: 5 },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      ...(params.metadata === undefined || params.metadata === null ? {} : { metadata: params.metadata }),
    },
    payload_schema: shard.payload_schema,
  };
}

const name = (request: RequestParts): string => request.path.collection_name!;
// Query strings arrive as text; the validator has already checked `wait` is a boolean.
const waits = (request: RequestParts): boolean => String(request.query.wait) === 'true';

const read = (op: PointOperation): Handler => (engine, request) => engine.run(op, name(request), request.body);
const write = (op: PointOperation): Handler => (engine, request) => engine.run(op, name(request), request.body, waits(request));

export const HANDLERS: Record<ImplementedOperation, Handler> = {
  root: async () => ({ title: 'qdrant - vector search engine', version: '1.19.0' }),
  // Qdrant answers through an alias too: the name exists when it resolves to a collection.
  collection_exists: async (engine, request) => ({ exists: engine.collections.has(engine.resolve(name(request))) }),
  get_collection: async (engine, request) => collectionInfo(engine.collection(name(request)).params, await engine.info(name(request))),
  delete_collection: (engine, request) => engine.drop(name(request)),
  update_aliases: async (engine, request) => {
    engine.updateAliases(request.body.actions as Array<Record<string, Record<string, string>>>);
    return true;
  },
  get_collection_aliases: async (engine, request) => {
    engine.collection(name(request));
    return { aliases: engine.listAliases(engine.resolve(name(request))) };
  },
  get_collections_aliases: async (engine) => ({ aliases: engine.listAliases() }),
  create_collection: async (engine, request) => {
    await engine.create(name(request), request.body);
    return true;
  },
  update_collection: async (engine, request) => {
    // Only the metadata lives outside the shard; the rest would reconfigure the shard itself.
    const { metadata, ...rest } = request.body;
    const other = Object.keys(rest).filter((key) => rest[key] !== null && rest[key] !== undefined);
    if (other.length > 0) throw new QdrantHttpError(400, `the test server does not implement updating ${other.join(', ')}`, 'unsupported');
    if (metadata !== undefined && metadata !== null) engine.updateMetadata(name(request), metadata as Record<string, unknown>);
    else engine.collection(name(request));
    return true;
  },
  create_field_index: write('create_field_index'),
  upsert_points: write('upsert_points'),
  delete_points: write('delete_points'),
  update_vectors: write('update_vectors'),
  delete_vectors: write('delete_vectors'),
  set_payload: write('set_payload'),
  overwrite_payload: write('overwrite_payload'),
  delete_payload: write('delete_payload'),
  clear_payload: write('clear_payload'),
  batch_update: write('batch_update'),
  // The path holds the id as text; Qdrant reads digits as a numeric id.
  get_point: (engine, request) => engine.run('get_point', name(request), { id: /^\d+$/.test(request.path.id!) ? Number(request.path.id) : request.path.id }),
  get_points: read('get_points'),
  scroll_points: read('scroll_points'),
  count_points: read('count_points'),
  query_points: read('query_points'),
  query_batch_points: read('query_batch_points'),
};
