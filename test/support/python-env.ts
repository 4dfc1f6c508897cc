import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Python environments some tests run real third-party code in (Qdrant's engine, Confluent's own
 * Kafka client): a virtual environment per pinned package list, installed from PyPI on first use
 * under the git-ignored node_modules/.cache. Only `python3` with its venv module must be on the
 * machine (Debian: python3-venv); RAGSYNC_PYTHON3 names another interpreter to build from.
 *
 * Safe when several processes start at once: each builds its own environment in a temporary
 * directory and renames it into place; the first rename wins and the others discard theirs, so no
 * process ever sees a half-installed environment.
 */
export interface PythonEnvSpec {
  /** A short name for messages and the folder, e.g. `qdrant-edge`. */
  name: string;
  /** Pinned requirements, as pip takes them. */
  packages: readonly string[];
  /** Modules imported once after installing, so a broken install fails here and not in a test. */
  imports: readonly string[];
}

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CACHE = path.resolve(HERE, '../../node_modules/.cache/ragsync-python');
const BIN = process.platform === 'win32' ? path.join('Scripts', 'python.exe') : path.join('bin', 'python');

const installing = new Map<string, Promise<string>>();

async function step(spec: PythonEnvSpec, what: string, file: string, args: string[]): Promise<void> {
  try {
    await run(file, args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`python environment ${spec.name}: ${what} failed: ${(stderr ?? '').trim() || message}`);
  }
}

async function install(spec: PythonEnvSpec, venv: string, log: (line: string) => void): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  const temp = `${venv}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    log(`installing ${spec.packages.join(' ')} into ${path.relative(process.cwd(), venv)} (first run only)`);
    const python3 = process.env.RAGSYNC_PYTHON3 ?? 'python3';
    await step(spec, `${python3} -m venv (on Debian, install the python3-venv package)`, python3, ['-m', 'venv', temp]);
    const python = path.join(temp, BIN);
    await step(spec, 'pip install', python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', ...spec.packages]);
    await step(spec, `importing ${spec.imports.join(', ')}`, python, ['-c', `import ${spec.imports.join(', ')}`]);
    try {
      await rename(temp, venv);
    } catch (error) {
      // Another process finished first: its environment is as good as ours.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** The interpreter of the environment, installed unless it is there; later calls reuse the answer. */
export function pythonEnv(spec: PythonEnvSpec, log: (line: string) => void = () => undefined): Promise<string> {
  const key = `${spec.name}-${createHash('sha256').update(spec.packages.join('\n')).digest('hex').slice(0, 12)}`;
  const existing = installing.get(key);
  if (existing !== undefined) return existing;
  const attempt = (async () => {
    const venv = path.join(CACHE, key);
    if (!existsSync(path.join(venv, BIN))) await install(spec, venv, log);
    return path.join(venv, BIN);
  })();
  installing.set(key, attempt);
  attempt.catch(() => {
    // A failed install is tried again by the next caller instead of failing forever.
    if (installing.get(key) === attempt) installing.delete(key);
  });
  return attempt;
}

/** Confluent's own Python client with its Avro deserializer (fastavro): a consumer outside ragsync. */
export const CONFLUENT_PYTHON: PythonEnvSpec = {
  name: 'confluent-kafka',
  packages: ['confluent-kafka[avro,schemaregistry]==2.16.1'],
  imports: ['confluent_kafka', 'fastavro'],
};
