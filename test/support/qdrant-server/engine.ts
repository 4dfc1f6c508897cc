import { EdgeError, type EdgeErrorKind, type EdgeProcess } from './edge-process.js';

/**
 * The Qdrant test server's engine is Qdrant's own: every point, payload, filter, deletion, count,
 * scroll and score comes from an edge shard (edge_shard.py), one per collection. This side keeps
 * only what Qdrant keeps outside its shards: which collections exist and the parameters they were
 * created with (for `GET /collections/{name}`), and it answers 404 for a collection that does not.
 */
export class QdrantHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** `unsupported` and `crashed` are the server's shortcomings: they are recorded as violations. */
    readonly kind: EdgeErrorKind = 'rejected',
  ) {
    super(message);
  }
}

export interface CollectionMeta {
  name: string;
  /** The create request's body, as the client sent it. */
  params: Record<string, unknown>;
}

/** What the edge shard reports about a collection's contents. */
export interface ShardInfo {
  points_count: number;
  indexed_vectors_count: number;
  segments_count: number;
  payload_schema: Record<string, { data_type: string; params?: Record<string, unknown>; points: number }>;
}

/** Edge operations that act on points; each takes the REST body as it arrived. */
export type PointOperation =
  | 'upsert_points'
  | 'get_point'
  | 'get_points'
  | 'delete_points'
  | 'update_vectors'
  | 'delete_vectors'
  | 'set_payload'
  | 'overwrite_payload'
  | 'delete_payload'
  | 'clear_payload'
  | 'batch_update'
  | 'scroll_points'
  | 'count_points'
  | 'query_points'
  | 'query_batch_points'
  | 'create_field_index';

export class Engine {
  private readonly byName = new Map<string, CollectionMeta>();

  constructor(private readonly shards: EdgeProcess) {}

  /** Every collection by name. Read-only: use {@link drop} to delete one with its shard. */
  get collections(): ReadonlyMap<string, CollectionMeta> {
    return this.byName;
  }

  collection(name: string): CollectionMeta {
    const found = this.byName.get(name);
    if (found === undefined) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return found;
  }

  async create(name: string, params: Record<string, unknown>): Promise<void> {
    if (this.byName.has(name)) throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
    // Known before the shard answers: requests sent meanwhile queue behind the creation.
    this.byName.set(name, { name, params });
    try {
      await this.call({ op: 'create', collection: name, body: params });
    } catch (error) {
      this.byName.delete(name);
      throw error;
    }
  }

  /** Merges into the collection's metadata; a key set to null is removed, as in Qdrant. */
  updateMetadata(name: string, metadata: Record<string, unknown>): void {
    const collection = this.collection(name);
    const merged: Record<string, unknown> = { ...((collection.params.metadata as Record<string, unknown> | null | undefined) ?? {}) };
    for (const [key, value] of Object.entries(metadata)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    collection.params = { ...collection.params, metadata: merged };
  }

  /** Deletes the collection and its shard; false when there was none. */
  async drop(name: string): Promise<boolean> {
    if (!this.byName.delete(name)) return false;
    return (await this.call({ op: 'drop', collection: name })) as boolean;
  }

  async info(name: string): Promise<ShardInfo> {
    this.collection(name);
    return (await this.call({ op: 'info', collection: name })) as ShardInfo;
  }

  async run(op: PointOperation, name: string, body: unknown, wait = false): Promise<unknown> {
    this.collection(name);
    return this.call({ op, collection: name, body, wait });
  }

  private async call(request: Parameters<EdgeProcess['call']>[0]): Promise<unknown> {
    try {
      return await this.shards.call(request);
    } catch (error) {
      if (error instanceof EdgeError) throw new QdrantHttpError(error.status, error.message, error.kind);
      throw error;
    }
  }
}
