import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import { SystemError } from '../../core/errors.js';
import type { CollectionSpec, Distance } from '../vector-store.js';
import { qdrantCall } from './errors.js';

const DISTANCES: Record<string, Distance> = { Cosine: 'cosine', Dot: 'dot', Euclid: 'euclid' };
/** Collection metadata key holding the embedding model id (as qdrant-backend.ts writes it). */
const MODEL_METADATA = 'ragsync_model_id';

/**
 * Qdrant's own aliases, for `resync --into`: the configured collection name becomes an alias of the
 * new collection, and `<name>_heads` of its heads collection, in one `POST /collections/aliases`
 * request (Qdrant applies its actions under one lock, so no request sees one switched and not the
 * other). Every request to an alias is resolved by the server, so workers and searches follow the
 * switch with their next request.
 *
 * A name can be an alias only while no collection has it (Qdrant refuses otherwise). A store set up
 * before aliases holds a real collection under the configured name: its first switch deletes that
 * collection (and its heads) and creates the aliases right after. Requests in between (a few
 * milliseconds) find no collection: a store worker pauses on that system error and goes on against
 * the new collection; the resync's catch-up applies whatever the worker wrote to the old one.
 */
export class QdrantAliases {
  readonly kind = 'qdrant';
  private readonly client: QdrantClient;

  constructor(options: { url: string; apiKey?: string | undefined; timeoutMs?: number }) {
    this.client = new QdrantClient({
      url: options.url,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      timeout: options.timeoutMs ?? 30_000,
      checkCompatibility: false,
    });
  }

  private async aliases(): Promise<Map<string, string>> {
    const { aliases } = await qdrantCall('list aliases', () => this.client.getAliases());
    return new Map(aliases.map((a) => [a.alias_name, a.collection_name]));
  }

  /** The collection `name` stands for: an alias's target, else the collection of that name; undefined when neither exists. */
  async resolve(name: string): Promise<string | undefined> {
    const target = (await this.aliases()).get(name);
    if (target !== undefined) return target;
    return (await this.exists(name)) ? name : undefined;
  }

  /** Whether a collection (not an alias) of this name exists, with its heads collection. */
  async exists(collection: string): Promise<boolean> {
    const aliases = await this.aliases();
    if (aliases.has(collection)) return false;
    const points = await qdrantCall('collection exists', () => this.client.collectionExists(collection));
    const heads = await qdrantCall('collection exists', () => this.client.collectionExists(`${collection}_heads`));
    return points.exists && heads.exists;
  }

  async isAliased(name: string): Promise<boolean> {
    const aliases = await this.aliases();
    return aliases.has(name) || [...aliases.values()].includes(name);
  }

  async spec(collection: string): Promise<CollectionSpec | undefined> {
    if (!(await this.exists(collection))) return undefined;
    const info = await qdrantCall('get collection', () => this.client.getCollection(collection));
    const vectors = info.config.params.vectors as Schemas['VectorParams'] | undefined;
    const distance = vectors === undefined ? undefined : DISTANCES[vectors.distance];
    if (vectors?.size === undefined || distance === undefined) {
      throw new SystemError(`qdrant collection "${collection}" has no single dense vector: it was not created by ragsync`, { code: 'store_collection_foreign' });
    }
    const model = (info.config.metadata as Record<string, unknown> | null | undefined)?.[MODEL_METADATA];
    return { dimension: vectors.size, distance, modelId: typeof model === 'string' ? model : '' };
  }

  /** Qdrant needs no hold of writes: points and heads are upserted by id, so two writers never duplicate one. */
  async releaseWrites(): Promise<void> {}

  async switch(name: string, collection: string): Promise<{ previous: string; adopted: boolean }> {
    const aliases = await this.aliases();
    const heads = `${name}_heads`;
    const previous = aliases.get(name);
    let adopted = false;
    if (previous === undefined) {
      // A collection under the alias's name (a store from before aliases): only its deletion frees the name.
      for (const existing of [name, heads]) {
        if ((await qdrantCall('collection exists', () => this.client.collectionExists(existing))).exists) {
          await qdrantCall('delete collection', () => this.client.deleteCollection(existing));
          adopted = true;
        }
      }
    }
    const actions: Schemas['AliasOperations'][] = [];
    if (aliases.has(name)) actions.push({ delete_alias: { alias_name: name } });
    if (aliases.has(heads)) actions.push({ delete_alias: { alias_name: heads } });
    actions.push({ create_alias: { collection_name: collection, alias_name: name } });
    actions.push({ create_alias: { collection_name: `${collection}_heads`, alias_name: heads } });
    await qdrantCall('switch aliases', () => this.client.updateCollectionAliases({ actions }));
    return { previous: previous ?? name, adopted };
  }

  async close(): Promise<void> {}
}
