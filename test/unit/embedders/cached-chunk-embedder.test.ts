import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cachedChunkEmbedder } from '../../../src/consumers/embed/cached-chunk-embedder.js';
import { RetryableError } from '../../../src/core/errors.js';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { MemoryEmbeddingCache } from '../../../src/embedders/memory-cache.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { RecordingEmbedder } from './recording-embedder.js';

const hashed = (text: string) => ({ hash: createHash('sha256').update(text).digest('hex'), text });
const plain = new HashingEmbedder();
const MODEL = plain.id;

async function embeddingLines(metrics: Metrics): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((l) => l.startsWith('ragsync_embeddings_total{') || l.startsWith('ragsync_embedding_calls_total{'));
}

/** An embedder that is down: every call fails as an unreachable endpoint would. */
class DownEmbedder extends HashingEmbedder {
  override async embed(): Promise<Float32Array[]> {
    throw new RetryableError('embedding endpoint unreachable', { code: 'embedder_unreachable' });
  }
}

describe('the embed stage embedder on /metrics', () => {
  it('counts texts embedded by the model, texts served from the cache, and model calls', async () => {
    const cache = new MemoryEmbeddingCache();
    const paragraphs = ['Our boots are waterproof.', 'They come in sizes 36 to 47.', 'Returns are free for 30 days.'];
    await cache.setMany(MODEL, [{ hash: hashed(paragraphs[1]!).hash, vector: plain.embedOne(paragraphs[1]!) }]);
    const metrics = createMetrics({ defaultMetrics: false });
    const embedder = new RecordingEmbedder();
    const chunks = cachedChunkEmbedder(embedder, cache, undefined, metrics);

    const { cached } = await chunks.embed(paragraphs.map(hashed));

    expect(cached).toEqual([false, true, false]);
    expect(embedder.calls).toEqual([[paragraphs[0], paragraphs[2]]]);
    expect(await embeddingLines(metrics)).toEqual([
      `ragsync_embeddings_total{model="${MODEL}",source="model"} 2`,
      `ragsync_embeddings_total{model="${MODEL}",source="cache"} 1`,
      `ragsync_embedding_calls_total{model="${MODEL}"} 1`,
    ]);
    expect(chunks.stats).toEqual({ calls: 1, texts: 2, cacheHits: 1 });
  });

  it('makes and counts no model call when everything is cached', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const chunks = cachedChunkEmbedder(new RecordingEmbedder(), new MemoryEmbeddingCache(), undefined, metrics);
    await chunks.embed([hashed('a'), hashed('b')]);
    await chunks.embed([hashed('a'), hashed('b')]);
    expect(await embeddingLines(metrics)).toEqual([
      `ragsync_embeddings_total{model="${MODEL}",source="model"} 2`,
      `ragsync_embeddings_total{model="${MODEL}",source="cache"} 2`,
      `ragsync_embedding_calls_total{model="${MODEL}"} 1`,
    ]);
  });

  it('adds up concurrent calls exactly, in the metrics and in its stats', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const chunks = cachedChunkEmbedder(new RecordingEmbedder(), undefined, undefined, metrics);
    await Promise.all([chunks.embed([hashed('a'), hashed('b')]), chunks.embed([hashed('c')]), chunks.embed([hashed('d'), hashed('e'), hashed('f')])]);
    expect(await embeddingLines(metrics)).toEqual([`ragsync_embeddings_total{model="${MODEL}",source="model"} 6`, `ragsync_embedding_calls_total{model="${MODEL}"} 3`]);
    expect(chunks.stats).toEqual({ calls: 3, texts: 6, cacheHits: 0 });
  });

  it('embeds a text once when concurrent calls carry it: the later ones wait for the first call\'s vector', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const embedder = new RecordingEmbedder();
    const chunks = cachedChunkEmbedder(embedder, new MemoryEmbeddingCache(), undefined, metrics);
    const shared = 'Free returns within 30 days.';
    const [one, two, three] = await Promise.all([
      chunks.embed([hashed('First jacket.'), hashed(shared)]),
      chunks.embed([hashed(shared), hashed('Second jacket.')]),
      chunks.embed([hashed(shared)]),
    ]);
    expect(embedder.calls.flat().filter((t) => t === shared)).toHaveLength(1);
    expect(embedder.calls.flat()).toHaveLength(3);
    expect(Array.from(two.vectors[0]!)).toEqual(Array.from(plain.embedOne(shared)));
    expect(Array.from(three.vectors[0]!)).toEqual(Array.from(one.vectors[1]!));
    // Only the call that sent the text says it was not cached.
    expect([one.cached, two.cached, three.cached]).toEqual([[false, false], [true, false], [true]]);
    expect(chunks.stats).toEqual({ calls: 2, texts: 3, cacheHits: 2 });
  });

  it('fails the calls that waited for a text when its call fails, and embeds it again next time', async () => {
    let fail = true;
    const flaky = new (class extends RecordingEmbedder {
      override async embed(texts: string[]): Promise<Float32Array[]> {
        this.calls.push(texts);
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (fail) throw new RetryableError('embedding endpoint unreachable', { code: 'embedder_unreachable' });
        return plain.embed(texts);
      }
    })();
    const chunks = cachedChunkEmbedder(flaky, undefined);
    const results = await Promise.allSettled([chunks.embed([hashed('a')]), chunks.embed([hashed('a')])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const again = await chunks.embed([hashed('a')]);
    expect(again.cached).toEqual([false]);
    expect(flaky.calls).toEqual([['a'], ['a']]);
  });

  it('counts a failed model call as a call, and none of its texts as embedded', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const chunks = cachedChunkEmbedder(new DownEmbedder(), undefined, undefined, metrics);
    await expect(chunks.embed([hashed('a'), hashed('b')])).rejects.toBeInstanceOf(RetryableError);
    expect(await embeddingLines(metrics)).toEqual([`ragsync_embedding_calls_total{model="${MODEL}"} 1`]);
  });

  it('embeds the same without metrics', async () => {
    const chunks = cachedChunkEmbedder(new RecordingEmbedder(), new MemoryEmbeddingCache());
    const { vectors, cached } = await chunks.embed([hashed('a')]);
    expect(Array.from(vectors[0]!)).toEqual(Array.from(plain.embedOne('a')));
    expect(cached).toEqual([false]);
    expect(chunks.stats).toEqual({ calls: 1, texts: 1, cacheHits: 0 });
  });
});
