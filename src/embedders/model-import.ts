import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { SystemError } from '../core/errors.js';
import { MODEL_FILES, defaultModelId, missingModelFiles, modelOnnx, readModelInfo, type ModelConfigJson, type ModelInfo, type Pooling } from './model-files.js';
import { OnnxEmbedder } from './onnx.js';

export interface ImportModelOptions {
  /** A folder laid out the way Transformers.js loads a model (see model-files.ts). */
  modelDir: string;
  /** How the model was trained to turn its last hidden state into one vector; the model card says. */
  pooling: Pooling;
  /** Put before search queries, if the model was trained with one (e.g. `query: ` for E5 models). */
  queryPrefix?: string;
  /** The embedder id its vectors carry. @defaultValue onnx:<folder name>, with -q when quantized */
  id?: string;
  /** Describe the folder again even when `ragsync model fetch` prepared it. */
  force?: boolean;
}

export interface ImportModelResult {
  modelDir: string;
  info: ModelInfo;
}

/**
 * Describes a model brought from elsewhere (a multilingual one, say) so ragsync can run it: checks
 * that the folder holds what Transformers.js loads, loads it and embeds one text with the given
 * pooling, checks that the vector has `config.json`'s `hidden_size` dimensions, and only then
 * writes `ragsync-model.json` (id, dimension, pooling, query prefix, the ONNX file's sha256).
 * Nothing is downloaded and no other file of the folder is touched.
 *
 * Throws a SystemError naming what is missing or wrong.
 */
export async function importModel(options: ImportModelOptions): Promise<ImportModelResult> {
  const modelDir = resolve(options.modelDir);
  const fail = (what: string): never => {
    throw new SystemError(`model import: ${modelDir}: ${what}`, { code: 'model_import_failed' });
  };
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) fail('no such folder');
  const missing = missingModelFiles(modelDir);
  if (missing.length > 0) {
    fail(`missing ${missing.join(', ')} (a model for Transformers.js: config.json, tokenizer.json, tokenizer_config.json and the ONNX weights under onnx/)`);
  }
  if (options.id !== undefined && !/^\S+$/.test(options.id)) fail(`--id "${options.id}": one word with no spaces, such as onnx:multilingual-e5-small-q`);

  const config = readJson<ModelConfigJson>(join(modelDir, MODEL_FILES.config), fail);
  const tokenizer = readJson<{ model?: unknown }>(join(modelDir, MODEL_FILES.tokenizer), fail);
  const tokenizerConfig = readJson<{ model_max_length?: number }>(join(modelDir, MODEL_FILES.tokenizerConfig), fail);
  if (typeof config.model_type !== 'string') fail(`${MODEL_FILES.config} has no model_type (Transformers.js chooses the architecture by it)`);
  if (!Number.isInteger(config.hidden_size) || config.hidden_size! <= 0) fail(`${MODEL_FILES.config} has no hidden_size (the vector size)`);
  if (typeof tokenizer.model !== 'object' || tokenizer.model === null) fail(`${MODEL_FILES.tokenizer} has no model: not a tokenizer.json of the Hugging Face tokenizers library`);

  const infoPath = join(modelDir, MODEL_FILES.info);
  if (existsSync(infoPath) && !options.force) {
    const previous = tryReadModelInfo(modelDir);
    if (previous?.source.startsWith('maven:')) fail(`holds ${previous.id}, prepared by \`ragsync model fetch\` (${previous.source}); --force describes it anew`);
  }

  const onnx = modelOnnx(modelDir)!;
  const info: ModelInfo = {
    id: options.id ?? defaultModelId(modelDir),
    dimension: config.hidden_size!,
    maxTokens: maxTokensOf(config, tokenizerConfig),
    pooling: options.pooling,
    ...(options.queryPrefix ? { queryPrefix: options.queryPrefix } : {}),
    source: `import:${basename(modelDir)}`,
    onnxSha256: createHash('sha256').update(readFileSync(join(modelDir, onnx.file))).digest('hex'),
  };

  // Load it and embed one text as the workers will, before describing it.
  const embedder = await OnnxEmbedder.load({ modelDir, info }).catch((error: unknown) => fail((error as Error).message));
  try {
    await embedder.embed([`${info.queryPrefix ?? ''}How do I return an item?`]);
  } catch (error) {
    fail(`${(error as Error).message} (hidden_size in ${MODEL_FILES.config} is ${info.dimension})`);
  } finally {
    await embedder.close();
  }
  writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`);
  return { modelDir, info };
}

/**
 * What the model reads of a text: the tokenizer's `model_max_length`, unless it is a placeholder
 * larger than the positions the model has (many exports say 1e30). RoBERTa-style models (XLM-R,
 * behind the multilingual E5 models) count two of their positions for padding.
 */
function maxTokensOf(config: ModelConfigJson, tokenizerConfig: { model_max_length?: number }): number {
  const positions = config.max_position_embeddings === undefined ? undefined : config.max_position_embeddings - (/roberta/.test(config.model_type ?? '') ? 2 : 0);
  const stated = tokenizerConfig.model_max_length;
  if (stated !== undefined && Number.isFinite(stated) && stated > 0 && (positions === undefined || stated <= positions)) return stated;
  return positions ?? 512;
}

function tryReadModelInfo(dir: string): ModelInfo | undefined {
  try {
    return readModelInfo(dir);
  } catch {
    return undefined;
  }
}

function readJson<T>(path: string, fail: (what: string) => never): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    return fail(`${basename(path)} is not JSON: ${(error as Error).message}`);
  }
}
