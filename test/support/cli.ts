import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/ragsync.js of this checkout. */
export const RAGSYNC_BIN = fileURLToPath(new URL('../../bin/ragsync.js', import.meta.url));

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Runs `ragsync <args>` as its own process, as a user would, with the local stack's connection
 * settings and nothing else of this process's environment but PATH and HOME, plus `env`.
 */
export async function runCli(args: readonly string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const base = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
    REDIS_URL: process.env.REDIS_URL,
  };
  const child = spawn(process.execPath, [RAGSYNC_BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out, err };
}
