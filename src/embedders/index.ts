import { resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { ConfigError } from '../core/errors.js';
import type { Embedder } from './embedder.js';
import { HashingEmbedder } from './hashing.js';
import { isModelFolder } from './model-files.js';
import { OnnxEmbedder } from './onnx.js';
import { OpenAiEmbedder } from './openai.js';

export type { Embedder, EmbedderDistance, EmbedderTokenizer } from './embedder.js';
export { HashingEmbedder } from './hashing.js';
export { OpenAiEmbedder } from './openai.js';
export { OnnxEmbedder } from './onnx.js';
export { MicroBatcher, type MicroBatcherOptions } from './batcher.js';
export { RedisEmbeddingCache, CACHE_REDIS_OPTIONS, type EmbeddingCache } from './cache.js';
export { MemoryEmbeddingCache } from './memory-cache.js';
export { CachedEmbedder, embedWithCache, type EmbeddingStats, type HashedText } from './cached-embedder.js';
export { fetchModel, type FetchModelOptions, type FetchModelResult } from './model-fetch.js';
export { importModel, type ImportModelOptions, type ImportModelResult } from './model-import.js';
export { vectorToBytes, bytesToVector } from '../core/vector-bytes.js';
export { checkSimilarity, cosine, SIMILARITY_PROBE } from './similarity-check.js';
export { isModelFolder, LOCAL_MODEL_NAMES, LOCAL_MODELS, localModelDir, MINILM } from './model-files.js';
import { localModelDir } from './model-files.js';

export type EmbedderConfig = Config['embedder'];

export interface CreatedEmbedder {
  embedder: Embedder;
  /** One line saying which embedder was chosen and why; the demo and `run` print it. */
  note: string;
  /**
   * `EMBEDDER=auto` found neither an endpoint nor a model and settled for the hashing embedder:
   * log `note` as a warning then, since a collection built with a semantic model will refuse
   * these vectors.
   */
  fallback: boolean;
}

/**
 * Builds the embedder `config.embedder` asks for. `kind: 'auto'` picks, in order: the
 * OpenAI-compatible endpoint when `url` is set; the local ONNX model when its folder exists; the
 * hashing embedder otherwise. Loads the ONNX model, or asks the endpoint once for its vector size
 * when `dimensions` is not configured, so the returned embedder's `dimension` is known.
 *
 * Throws ConfigError for a contradictory config (e.g. `openai` without `url`), SystemError when
 * the ONNX folder is missing or broken, and the endpoint's classified errors from its probe.
 */
export async function createEmbedder(config: EmbedderConfig): Promise<CreatedEmbedder> {
  const modelDir = resolve(localModelDir(config));
  let kind = config.kind;
  let why: string;
  let fallback = false;
  if (kind === 'auto') {
    if (config.url) [kind, why] = ['openai', 'EMBEDDING_URL is set'];
    else if (isModelFolder(modelDir)) [kind, why] = ['onnx', `a model is in ${localModelDir(config)}`];
    else {
      [kind, why] = ['hashing', `EMBEDDING_URL is not set and no model is in ${localModelDir(config)} (\`ragsync model fetch\` gets one)`];
      fallback = true;
    }
  } else {
    why = `EMBEDDER=${kind}`;
  }

  switch (kind) {
    case 'openai': {
      if (!config.url) throw new ConfigError('EMBEDDING_URL (embedder.url): required with EMBEDDER=openai');
      const embedder = new OpenAiEmbedder({
        url: config.url,
        model: config.model ?? '',
        apiKey: config.apiKey,
        dimensions: config.dimensions,
        batchSize: config.batchSize,
        timeoutMs: config.timeoutMs,
      });
      await embedder.connect();
      return { embedder, note: `embedder ${embedder.id} (${embedder.dimension} dimensions, semantic) at ${embedder.endpoint}, because ${why}`, fallback };
    }
    case 'onnx': {
      const embedder = await OnnxEmbedder.load({ modelDir });
      return { embedder, note: `embedder ${embedder.id} (${embedder.dimension} dimensions, semantic, local ONNX), because ${why}`, fallback };
    }
    case 'hashing': {
      const embedder = new HashingEmbedder({ dimension: config.dimensions });
      const what = `embedder ${embedder.id} (${embedder.dimension} dimensions, lexical: matches shared words, not meaning)`;
      if (!fallback) return { embedder, note: `${what}, because ${why}`, fallback };
      return {
        embedder,
        note:
          `EMBEDDER=auto fell back to the ${what}, because ${why}. ` +
          `A collection built with another model will refuse its ${embedder.id} vectors; set EMBEDDER=hashing to choose it on purpose`,
        fallback,
      };
    }
  }
}
