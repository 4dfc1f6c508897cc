import { Redis, type RedisOptions } from 'ioredis';
import { bytesToVector, vectorToBytes } from '../core/vector-bytes.js';

/**
 * Where embeddings of chunks are remembered, keyed by (model id, chunk hash): an unchanged chunk
 * is never embedded twice, across records, replays and resyncs (docs/design.md §3 embed).
 *
 * A cache only: callers treat any error as "nothing cached" (see embed-with-cache.ts).
 */
export interface EmbeddingCache {
  /** One entry per hash, in order: the vector, or undefined when not cached. */
  getMany(modelId: string, hashes: string[]): Promise<Array<Float32Array | undefined>>;
  setMany(modelId: string, entries: Array<{ hash: string; vector: Float32Array }>): Promise<void>;
  close(): Promise<void>;
}

export interface RedisEmbeddingCacheOptions {
  /** `config.redis.keyPrefix`; keys are `<prefix>emb:<model id>:<chunk hash>`. */
  keyPrefix: string;
  /** Seconds an entry lives; undefined keeps entries until Redis evicts them. */
  ttlSeconds?: number;
}

/**
 * Client settings for a cache: a command fails within a second when Redis is away instead of
 * waiting in ioredis's offline queue, so a Redis outage costs an embedding call, not a stall.
 */
export const CACHE_REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  connectTimeout: 2000,
};

/** Entries written by one MSET: about 1.5 MB of 384-dimension vectors. */
const MSET_ENTRIES = 1000;

/** The embedding cache in Redis: values are the vectors' float32 little-endian bytes. */
export class RedisEmbeddingCache implements EmbeddingCache {
  private readonly ownsClient: boolean;
  private connecting: Promise<void> | undefined;

  /** Uses `redis` as it is; the caller keeps owning it unless it came from {@link fromUrl}. */
  constructor(
    private readonly redis: Redis,
    private readonly options: RedisEmbeddingCacheOptions,
    ownsClient = false,
  ) {
    this.ownsClient = ownsClient;
  }

  /** A cache with its own client (settings {@link CACHE_REDIS_OPTIONS}); connects lazily. */
  static fromUrl(url: string, options: RedisEmbeddingCacheOptions): RedisEmbeddingCache {
    const redis = new Redis(url, { ...CACHE_REDIS_OPTIONS, lazyConnect: true });
    // Failures surface on each command; without a listener ioredis would print every reconnect.
    redis.on('error', () => undefined);
    return new RedisEmbeddingCache(redis, options, true);
  }

  key(modelId: string, hash: string): string {
    return `${this.options.keyPrefix}emb:${modelId}:${hash}`;
  }

  async getMany(modelId: string, hashes: string[]): Promise<Array<Float32Array | undefined>> {
    if (hashes.length === 0) return [];
    await this.ready();
    const values = await this.redis.mgetBuffer(...hashes.map((h) => this.key(modelId, h)));
    return values.map((value) => (value && value.length > 0 && value.length % 4 === 0 ? bytesToVector(value) : undefined));
  }

  async setMany(modelId: string, entries: Array<{ hash: string; vector: Float32Array }>): Promise<void> {
    if (entries.length === 0) return;
    await this.ready();
    if (!this.options.ttlSeconds) {
      // One MSET per part: a third of the client's CPU of one SET per entry.
      for (let i = 0; i < entries.length; i += MSET_ENTRIES) {
        const args: Array<string | Buffer> = [];
        for (const { hash, vector } of entries.slice(i, i + MSET_ENTRIES)) args.push(this.key(modelId, hash), vectorToBytes(vector));
        await this.redis.mset(...args);
      }
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const { hash, vector } of entries) pipeline.set(this.key(modelId, hash), vectorToBytes(vector), 'EX', this.options.ttlSeconds);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async close(): Promise<void> {
    if (this.ownsClient && this.redis.status !== 'end') this.redis.disconnect();
  }

  private async ready(): Promise<void> {
    // With the offline queue off, a lazy client must be connected before its first command;
    // concurrent first calls share one connect.
    if (this.redis.status === 'wait' && !this.connecting) {
      this.connecting = this.redis.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    if (this.connecting) await this.connecting;
  }
}
