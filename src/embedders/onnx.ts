import { basename, dirname, resolve } from 'node:path';
import type { FeatureExtractionPipeline } from '@huggingface/transformers';
import { SystemError } from '../core/errors.js';
import type { Embedder, EmbedderTokenizer } from './embedder.js';
import { missingModelFiles, modelOnnx, readModelInfo, type ModelInfo } from './model-files.js';

export interface OnnxEmbedderOptions {
  /** A folder prepared by `ragsync model fetch` (layout in model-files.ts). */
  modelDir: string;
  /**
   * Texts per inference run. @defaultValue 1: the quantized model quantizes activations per run,
   * so a text's vector would depend slightly on its neighbours in the run (cosine ≈ 0.993), and
   * one at a time measured faster on CPU anyway (no padding to the longest text).
   */
  batchSize?: number;
  /** Describe the model with this instead of the folder's `ragsync-model.json` (`model import` tries a description before writing it). */
  info?: ModelInfo;
}

/** Transformers.js keeps its settings in one global `env`; loads take turns so each sees its own. */
let loadLock: Promise<unknown> = Promise.resolve();

/**
 * A local sentence-embedding model (all-MiniLM-L6-v2 quantized by default, or another of
 * LOCAL_MODELS) run on the CPU with Transformers.js and onnxruntime-node: the model's pooling
 * (mean over the last hidden state, or its [CLS] state), L2-normalised,
 * texts truncated at the model's limit. Nothing is ever downloaded at run time: remote models are
 * off, and the folder must exist (`ragsync model fetch`, or a model brought with `ragsync model
 * import`).
 *
 * The same text always gets the same vector, whatever it is embedded with. Inference runs one
 * call at a time (the session is not shared between concurrent runs). A
 * missing or broken model folder and a failing inference are SystemErrors: they would fail every
 * record the same way.
 */
export class OnnxEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly distance = 'Cosine' as const;
  readonly kind = 'semantic' as const;
  readonly tokenizer: EmbedderTokenizer;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly pooling: 'mean' | 'cls';
  readonly queryPrefix: string | undefined;

  private constructor(
    private readonly extractor: FeatureExtractionPipeline,
    readonly info: ModelInfo,
    private readonly batchSize: number,
  ) {
    this.id = info.id;
    this.dimension = info.dimension;
    this.pooling = info.pooling ?? 'mean';
    this.queryPrefix = info.queryPrefix;
    this.tokenizer = {
      id: `${info.id}/tokenizer`,
      count: (text) => extractor.tokenizer.encode(text, { add_special_tokens: false }).length,
    };
  }

  /** Loads the model from its folder (about a quarter of a second for MiniLM). */
  static async load(options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const modelDir = resolve(options.modelDir);
    const missing = missingModelFiles(modelDir);
    // None of the four files: no model at all; some: a folder laid out wrong.
    if (missing.length === 4) {
      throw new SystemError(`no ONNX model in ${modelDir} (RAGSYNC_MODEL_DIR): run \`ragsync model fetch\` first`, { code: 'embedder_model_missing' });
    }
    if (missing.length > 0) {
      throw new SystemError(`the ONNX model in ${modelDir} (RAGSYNC_MODEL_DIR) lacks ${missing.join(', ')}`, { code: 'embedder_model_missing' });
    }
    let info: ModelInfo;
    try {
      info = options.info ?? readModelInfo(modelDir);
    } catch (cause) {
      throw new SystemError(`cannot read the description of the model in ${modelDir}: ${(cause as Error).message}`, { code: 'embedder_model_invalid', cause });
    }
    const loading = loadLock.then(() => loadPipeline(modelDir));
    loadLock = loading.catch(() => undefined);
    const extractor = await loading;
    return new OnnxEmbedder(extractor, info, options.batchSize ?? 1);
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    const result = this.queue.then(() => this.run(texts));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.extractor.dispose();
  }

  private async run(texts: string[]): Promise<Float32Array[]> {
    if (this.closed) throw new SystemError(`embedder ${this.id} is closed`, { code: 'embedder_closed' });
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const batch = texts.slice(start, start + this.batchSize);
      let data: Float32Array;
      let dims: number[];
      try {
        const tensor = await this.extractor(batch, { pooling: this.pooling, normalize: true });
        data = tensor.data as Float32Array;
        dims = tensor.dims;
      } catch (cause) {
        throw new SystemError(`embedder ${this.id}: inference failed: ${(cause as Error).message}`, { code: 'embedder_inference_failed', cause });
      }
      if (dims[0] !== batch.length || dims[1] !== this.dimension) {
        throw new SystemError(`embedder ${this.id}: the model returned [${dims.join(', ')}], expected [${batch.length}, ${this.dimension}]`, { code: 'embedder_wrong_dimension' });
      }
      for (let i = 0; i < batch.length; i++) out.push(data.slice(i * this.dimension, (i + 1) * this.dimension));
    }
    return out;
  }
}

async function loadPipeline(modelDir: string): Promise<FeatureExtractionPipeline> {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${dirname(modelDir)}/`;
  try {
    return (await pipeline('feature-extraction', basename(modelDir), {
      dtype: modelOnnx(modelDir)?.dtype ?? 'q8',
      device: 'cpu',
      local_files_only: true,
    })) as FeatureExtractionPipeline;
  } catch (cause) {
    throw new SystemError(`cannot load the ONNX model in ${modelDir}: ${(cause as Error).message}`, { code: 'embedder_model_invalid', cause });
  }
}
