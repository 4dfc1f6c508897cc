import type { Embedder } from '../../embedders/embedder.js';
import { embedJoiningInFlight, embedWithCache, type EmbeddingStats, type WarnLogger } from '../../embedders/cached-embedder.js';
import type { EmbeddingCache } from '../../embedders/cache.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ChunkEmbedder } from './embed-stage.js';

/** The counters {@link cachedChunkEmbedder} adds to; a process's {@link Metrics} has them. */
export type EmbeddingMetrics = Pick<Metrics, 'embeddings' | 'embeddingCalls'>;

/**
 * The embed stage's view of an embedder with its Redis cache: which chunks needed a model call is
 * what makes a set a "touch". The texts the model was actually asked for are recorded per call, so
 * an item whose text was not sent came from the cache.
 *
 * With `metrics`, every call to `embedder` counts in `ragsync_embedding_calls_total` when it is
 * made (a failing model is still being called), and the texts of a successful `embed` count in
 * `ragsync_embeddings_total`: `source="model"` for those the model embedded, `source="cache"` for
 * those the cache answered (distinct chunk hashes, as in `stats`).
 */
export function cachedChunkEmbedder(
  embedder: Embedder,
  cache: EmbeddingCache | undefined,
  logger?: WarnLogger,
  metrics?: EmbeddingMetrics,
): ChunkEmbedder & { stats: EmbeddingStats } {
  const stats: EmbeddingStats = { calls: 0, texts: 0, cacheHits: 0 };
  const model = embedder.id;
  // Hashes a call of this process is embedding right now. The stage runs several calls at once
  // (partitions, and the batches a slice is cut into), and one text often reaches two of them
  // (successive saves of an entity in one slice, a paragraph shared by many products): before the
  // first call's vectors reach the cache, the second would embed it again.
  const inFlight = new Map<string, Promise<Float32Array>>();
  return {
    modelId: embedder.id,
    dimension: embedder.dimension,
    stats,
    async embed(items) {
      const sent = new Set<string>();
      const recording: Embedder = {
        id: embedder.id,
        dimension: embedder.dimension,
        distance: embedder.distance,
        kind: embedder.kind,
        embed: (texts) => {
          for (const t of texts) sent.add(t);
          metrics?.embeddingCalls.inc({ model });
          return embedder.embed(texts);
        },
        close: () => Promise.resolve(),
      };
      // Counted per call and added afterwards: the partitions of a batch embed concurrently, so a
      // before/after difference of the shared `stats` would count the other calls too.
      const own: EmbeddingStats = { calls: 0, texts: 0, cacheHits: 0 };
      try {
        const { byHash, joined } = await embedJoiningInFlight(inFlight, items, (mine) => embedWithCache(recording, cache, mine, { stats: own, ...(logger ? { logger } : {}) }));
        // A text another call embedded is counted as the cache's: this call did not send it.
        own.cacheHits += joined;
        if (own.texts > 0) metrics?.embeddings.inc({ model, source: 'model' }, own.texts);
        if (own.cacheHits > 0) metrics?.embeddings.inc({ model, source: 'cache' }, own.cacheHits);
        return { vectors: items.map((item) => byHash.get(item.hash)!), cached: items.map((item) => !sent.has(item.text)) };
      } finally {
        stats.calls += own.calls;
        stats.texts += own.texts;
        stats.cacheHits += own.cacheHits;
      }
    },
  };
}
