import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEmbeddingCache } from '../../../src/embedders/cache.js';
import { CachedEmbedder, type HashedText } from '../../../src/embedders/cached-embedder.js';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { bytesToVector } from '../../../src/core/vector-bytes.js';
import { uniqueName } from '../../support/unique.js';

const hashed = (text: string): HashedText => ({ hash: createHash('sha256').update(text).digest('hex'), text });
const asArrays = (vectors: Float32Array[]): number[][] => vectors.map((v) => Array.from(v));

describe('the embedding cache in Redis', () => {
  const prefix = `${uniqueName('emb-cache')}:`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('stores float32 little-endian bytes under the prefix, model id and chunk hash', async () => {
    const cache = new RedisEmbeddingCache(redis, { keyPrefix: prefix });
    const embedder = new HashingEmbedder({ dimension: 8 });
    const vector = embedder.embedOne('hello');
    await cache.setMany(embedder.id, [{ hash: 'abc', vector }]);
    const raw = await redis.getBuffer(`${prefix}emb:hashing-v1-8:abc`);
    expect(raw?.length).toBe(32);
    expect(Array.from(bytesToVector(raw!))).toEqual(Array.from(vector));
    expect(await redis.pttl(`${prefix}emb:hashing-v1-8:abc`)).toBe(-1);
    const [hit, miss] = await cache.getMany(embedder.id, ['abc', 'missing']);
    expect(Array.from(hit!)).toEqual(Array.from(vector));
    expect(miss).toBeUndefined();
  });

  it('stores every entry of a write larger than one command, each under its own hash, and a vector that is a view of a larger array', async () => {
    const cache = new RedisEmbeddingCache(redis, { keyPrefix: prefix });
    const embedder = new HashingEmbedder({ dimension: 16 });
    const entries = Array.from({ length: 2_345 }, (_, i) => ({ hash: `h${i}`, vector: embedder.embedOne(`chunk number ${i}`) }));
    const backing = new Float32Array(40).map((_, i) => i / 7);
    entries.push({ hash: 'view', vector: backing.subarray(3, 19) });
    await cache.setMany('many', entries);
    const got = await cache.getMany('many', entries.map((e) => e.hash));
    expect(got.map((v) => Array.from(v!))).toEqual(entries.map((e) => Array.from(e.vector)));
    expect(await redis.pttl(`${prefix}emb:many:h2000`)).toBe(-1);
  });

  it('gives entries the configured time to live', async () => {
    const cache = new RedisEmbeddingCache(redis, { keyPrefix: prefix, ttlSeconds: 120 });
    await cache.setMany('m', [{ hash: 'ttl', vector: Float32Array.of(1, 2) }]);
    const ttl = await redis.pttl(`${prefix}emb:m:ttl`);
    expect(ttl).toBeGreaterThan(110_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  describe('when one paragraph of a document is edited', () => {
    it('re-embeds exactly one chunk, also after a restart of the process', async () => {
      const embedder = new HashingEmbedder();
      const before = ['Our boots are waterproof.', 'They come in sizes 36 to 47.', 'Returns are free for 30 days.'];
      const after = [before[0]!, 'They come in sizes 35 to 48.', before[2]!];

      const first = RedisEmbeddingCache.fromUrl(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { keyPrefix: prefix });
      const worker = new CachedEmbedder(embedder, first);
      await worker.embed(before.map(hashed));
      expect(worker.stats).toEqual({ calls: 1, texts: 3, cacheHits: 0 });
      await first.close();

      // A new process: nothing in memory, everything in Redis.
      const second = RedisEmbeddingCache.fromUrl(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { keyPrefix: prefix });
      try {
        const restarted = new CachedEmbedder(embedder, second);
        const vectors = await restarted.embed(after.map(hashed));
        expect(restarted.stats).toEqual({ calls: 1, texts: 1, cacheHits: 2 });
        expect(asArrays(vectors)).toEqual(asArrays(after.map((t) => embedder.embedOne(t))));
      } finally {
        await second.close();
      }
    });
  });
});
