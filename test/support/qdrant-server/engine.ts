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
  /** Alias → collection, as Qdrant keeps them beside its collections. */
  private readonly aliasMap = new Map<string, string>();

  constructor(private readonly shards: EdgeProcess) {}

  /** Every collection by name. Read-only: use {@link drop} to delete one with its shard. */
  get collections(): ReadonlyMap<string, CollectionMeta> {
    return this.byName;
  }

  /** Every alias, alias → collection. */
  get aliases(): ReadonlyMap<string, string> {
    return this.aliasMap;
  }

  /** The collection a name stands for: an alias's target first, as Qdrant resolves names. */
  resolve(name: string): string {
    return this.aliasMap.get(name) ?? name;
  }

  collection(name: string): CollectionMeta {
    const found = this.byName.get(this.resolve(name));
    if (found === undefined) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return found;
  }

  async create(name: string, params: Record<string, unknown>): Promise<void> {
    if (this.byName.has(name)) throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`);
    if (this.aliasMap.has(name)) throw new QdrantHttpError(400, `Wrong input: Can't create collection with name ${name}. Alias with the same name already exists`);
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
    // Qdrant deletes by the collection's own name (never through an alias) and drops its aliases.
    for (const [alias, target] of this.aliasMap) if (target === name) this.aliasMap.delete(alias);
    if (!this.byName.delete(name)) return false;
    return (await this.call({ op: 'drop', collection: name })) as boolean;
  }

  async info(name: string): Promise<ShardInfo> {
    const { name: real } = this.collection(name);
    return (await this.call({ op: 'info', collection: real })) as ShardInfo;
  }

  async run(op: PointOperation, name: string, body: unknown, wait = false): Promise<unknown> {
    const { name: real } = this.collection(name);
    return this.call({ op, collection: real, body, wait });
  }

  /**
   * `POST /collections/aliases`: the actions in order, all or none (Qdrant applies them under one
   * lock). A new alias needs an existing collection and a name no collection has; deleting an
   * alias that does not exist changes nothing; renaming one that does not exist is a 404.
   */
  updateAliases(actions: ReadonlyArray<Record<string, Record<string, string>>>): void {
    const next = new Map(this.aliasMap);
    for (const action of actions) {
      if (action.create_alias) {
        const { collection_name, alias_name } = action.create_alias as { collection_name: string; alias_name: string };
        if (!this.byName.has(collection_name)) throw new QdrantHttpError(404, `Not found: Collection \`${collection_name}\` doesn't exist!`);
        if (this.byName.has(alias_name)) throw new QdrantHttpError(409, `Wrong input: Collection \`${alias_name}\` already exists!`);
        next.set(alias_name, collection_name);
      } else if (action.delete_alias) {
        next.delete(action.delete_alias.alias_name!);
      } else if (action.rename_alias) {
        const { old_alias_name, new_alias_name } = action.rename_alias as { old_alias_name: string; new_alias_name: string };
        const target = next.get(old_alias_name);
        if (target === undefined) throw new QdrantHttpError(404, `Not found: Alias ${old_alias_name} does not exists!`);
        next.delete(old_alias_name);
        next.set(new_alias_name, target);
      }
    }
    this.aliasMap.clear();
    for (const [alias, target] of next) this.aliasMap.set(alias, target);
  }

  /** Aliases of one collection (by its own name), or of all. */
  listAliases(collection?: string): Array<{ alias_name: string; collection_name: string }> {
    return [...this.aliasMap].filter(([, target]) => collection === undefined || target === collection).map(([alias_name, collection_name]) => ({ alias_name, collection_name }));
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
