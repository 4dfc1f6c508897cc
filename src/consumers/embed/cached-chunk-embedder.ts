import type { Embedder } from '../../embedders/embedder.js';
import { embedWithCache, type EmbeddingStats, type WarnLogger } from '../../embedders/cached-embedder.js';
import type { EmbeddingCache } from '../../embedders/cache.js';
import type { ChunkEmbedder } from './embed-stage.js';

/**
 * The embed stage's view of an embedder with its Redis cache: which chunks needed a model call is
 * what makes a set a "touch". The texts the model was actually asked for are recorded per call, so
 * an item whose text was not sent came from the cache.
 */
export function cachedChunkEmbedder(embedder: Embedder, cache: EmbeddingCache | undefined, logger?: WarnLogger): ChunkEmbedder & { stats: EmbeddingStats } {
  const stats: EmbeddingStats = { calls: 0, texts: 0, cacheHits: 0 };
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
          return embedder.embed(texts);
        },
        close: () => Promise.resolve(),
      };
      const vectors = await embedWithCache(recording, cache, items, { stats, ...(logger ? { logger } : {}) });
      return { vectors, cached: items.map((item) => !sent.has(item.text)) };
    },
  };
}
