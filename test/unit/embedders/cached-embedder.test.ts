import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../../src/core/errors.js';
import { RedisEmbeddingCache } from '../../../src/embedders/cache.js';
import { CachedEmbedder, embedWithCache, type HashedText } from '../../../src/embedders/cached-embedder.js';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { MemoryEmbeddingCache } from '../../../src/embedders/memory-cache.js';
import { MicroBatcher } from '../../../src/embedders/batcher.js';
import { OpenAiEmbedder } from '../../../src/embedders/openai.js';
import { RecordingEmbedder } from './recording-embedder.js';

const hashed = (text: string): HashedText => ({ hash: createHash('sha256').update(text).digest('hex'), text });
const plain = new HashingEmbedder();
const asArrays = (vectors: Float32Array[]): number[][] => vectors.map((v) => Array.from(v));

class WarningsLog {
  readonly messages: string[] = [];
  warn(_details: object, message: string): void {
    this.messages.push(message);
  }
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('embedding with a cache', () => {
  const paragraphs = ['Our boots are waterproof.', 'They come in sizes 36 to 47.', 'Returns are free for 30 days.'];

  it('embeds each distinct hash once and returns vectors for every item in order', async () => {
    const cached = new CachedEmbedder(plain, new MemoryEmbeddingCache());
    const items = [hashed('a'), hashed('b'), hashed('a')];
    const vectors = await cached.embed(items);
    expect(asArrays(vectors)).toEqual(asArrays([plain.embedOne('a'), plain.embedOne('b'), plain.embedOne('a')]));
    expect(cached.stats).toEqual({ calls: 1, texts: 2, cacheHits: 0 });
  });

  it('makes no embedder call when every chunk is cached', async () => {
    const cached = new CachedEmbedder(plain, new MemoryEmbeddingCache());
    await cached.embed(paragraphs.map(hashed));
    const again = await cached.embed(paragraphs.map(hashed));
    expect(asArrays(again)).toEqual(asArrays(paragraphs.map((p) => plain.embedOne(p))));
    expect(cached.stats).toEqual({ calls: 1, texts: 3, cacheHits: 3 });
  });

  it('re-embeds exactly the one chunk whose paragraph was edited', async () => {
    const cached = new CachedEmbedder(plain, new MemoryEmbeddingCache());
    await cached.embed(paragraphs.map(hashed));
    const edited = [paragraphs[0]!, 'They come in sizes 35 to 48.', paragraphs[2]!];
    await cached.embed(edited.map(hashed));
    expect(cached.stats).toEqual({ calls: 2, texts: 4, cacheHits: 2 });
  });

  describe('when concurrent calls share a chunk', () => {
    it('embeds it once and hands the vector to both', async () => {
      const inner = new RecordingEmbedder();
      const cached = new CachedEmbedder(new MicroBatcher(inner, { batchSize: 10, batchWaitMs: 5 }), new MemoryEmbeddingCache());
      const note = 'Free shipping on orders over 50 euros.';
      const [first, second] = await Promise.all([cached.embed([hashed('Red boots.'), hashed(note)]), cached.embed([hashed(note), hashed('Blue boots.')])]);
      expect(inner.calls.flat().sort()).toEqual([note, 'Blue boots.', 'Red boots.'].sort());
      expect(Array.from(second[0]!)).toEqual(Array.from(first[1]!));
      expect(cached.stats).toEqual({ calls: 2, texts: 3, cacheHits: 1 });
    });
  });

  it('keeps the vectors of different models apart', async () => {
    const cache = new MemoryEmbeddingCache();
    const small = new CachedEmbedder(new HashingEmbedder({ dimension: 8 }), cache);
    const large = new CachedEmbedder(plain, cache);
    await small.embed([hashed('shared text')]);
    const [vector] = await large.embed([hashed('shared text')]);
    expect(vector).toHaveLength(384);
    expect(large.stats.texts).toBe(1);
  });

  it('treats a cached value of the wrong size as a miss', async () => {
    const cache = new MemoryEmbeddingCache();
    const item = hashed('text');
    await cache.setMany(plain.id, [{ hash: item.hash, vector: new Float32Array(3) }]);
    const stats = { calls: 0, texts: 0, cacheHits: 0 };
    const [vector] = await embedWithCache(plain, cache, [item], { stats });
    expect(vector).toHaveLength(384);
    expect(stats).toEqual({ calls: 1, texts: 1, cacheHits: 0 });
  });

  it('deduplicates even without a cache', async () => {
    const stats = { calls: 0, texts: 0, cacheHits: 0 };
    expect(await embedWithCache(plain, undefined, [hashed('x'), hashed('x')], { stats })).toHaveLength(2);
    expect(stats.texts).toBe(1);
  });

  describe('when Redis is unreachable', () => {
    it('embeds every text, warns, and never fails the record', async () => {
      const cache = RedisEmbeddingCache.fromUrl(`redis://127.0.0.1:${await closedPort()}`, { keyPrefix: 'unit:' });
      const log = new WarningsLog();
      try {
        const cached = new CachedEmbedder(plain, cache, log);
        const vectors = await cached.embed(paragraphs.map(hashed));
        expect(asArrays(vectors)).toEqual(asArrays(paragraphs.map((p) => plain.embedOne(p))));
        expect(cached.stats).toEqual({ calls: 1, texts: 3, cacheHits: 0 });
        expect(log.messages).toEqual([
          'embedding cache unavailable: reading failed, embedding every text',
          'embedding cache unavailable: writing failed, vectors not cached',
        ]);
      } finally {
        await cache.close();
      }
    });
  });

  describe('when Redis stays unreachable', () => {
    it('logs each warning once per interval, not once per call', async () => {
      const cache = RedisEmbeddingCache.fromUrl(`redis://127.0.0.1:${await closedPort()}`, { keyPrefix: 'unit:' });
      const log = new WarningsLog();
      try {
        const stats = { calls: 0, texts: 0, cacheHits: 0 };
        for (let i = 0; i < 5; i++) await embedWithCache(plain, cache, [hashed(`text ${i}`)], { stats, logger: log, warnEveryMs: 60_000 });
        expect(stats.texts).toBe(5);
        expect(log.messages).toHaveLength(2);
      } finally {
        await cache.close();
      }
    });
  });

  describe('when the embedder fails', () => {
    it('passes its classified error through', async () => {
      const embedder = new OpenAiEmbedder({ url: `http://127.0.0.1:${await closedPort()}/v1`, model: 'm', dimensions: 4 });
      await expect(embedWithCache(embedder, new MemoryEmbeddingCache(), [hashed('x')])).rejects.toBeInstanceOf(RetryableError);
    });
  });
});
