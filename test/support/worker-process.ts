import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../../src/config/index.js';
import { PROJECT_ROOT } from '../../src/stack/layout.js';
import { waitUntil } from './kafka.js';

/**
 * `ragsync` run as a separate process, as an operator runs it: a worker (`run <stages>`) whose JSON
 * log lines are kept with their times, or a one-shot command whose output is returned.
 */
const BIN = join(PROJECT_ROOT, 'bin', 'ragsync.js');

/** One pino line of a worker: its epoch-ms `time`, numeric `level` (30 info, 40 warn, 50 error) and message. */
export interface LogLine {
  time: number;
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** The environment a process needs to reach the pipeline `config` describes (stack, prefixes, store). */
export function pipelineEnv(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    KAFKA_BROKERS: config.kafka.brokers.join(','),
    SCHEMA_REGISTRY_URL: config.registry.url,
    REDIS_URL: config.redis.url,
    RAGSYNC_TOPIC_PREFIX: config.topics.prefix,
    RAGSYNC_REDIS_PREFIX: config.redis.keyPrefix,
    RAGSYNC_COLLECTION: config.store.collection,
    QDRANT_URL: config.store.qdrantUrl ?? '',
    LANCEDB_PATH: config.store.lancedbPath,
    EMBEDDER: 'hashing',
    RAGSYNC_RETRY_DELAYS: config.topics.retryDelaysMs.map((ms) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)).join(','),
    // A suite that runs its workers from the build (the fault suite) says so once, for all of them.
    ...(process.env.RAGSYNC_USE_DIST ? { RAGSYNC_USE_DIST: process.env.RAGSYNC_USE_DIST } : {}),
    ...extra,
  };
}

export class WorkerProcess {
  readonly lines: LogLine[] = [];
  /** Output that is not a JSON log line (a stack trace, a crash), kept for failure messages. */
  private other = '';
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  /** The signal that ended the process, when one did (then exitCode is null). */
  private exitSignal: NodeJS.Signals | null = null;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    let buffered = '';
    const take = (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) this.take(part);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', (chunk: Buffer) => (this.other = (this.other + chunk.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.exitSignal = signal;
      resolve((this.exitCode = code));
    }));
  }

  /** Starts `ragsync run <stages> --port 0` with exactly `env`. */
  static start(name: string, stages: string[], env: Record<string, string>): WorkerProcess {
    const child = spawn(process.execPath, [BIN, 'run', ...stages, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new WorkerProcess(name, child);
  }

  /** Starts `ragsync <args>` (another command than `run`, e.g. `webhook serve`) with exactly `env`. */
  static command(name: string, args: string[], env: Record<string, string>): WorkerProcess {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new WorkerProcess(name, child);
  }

  /** True until the process exits. */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private take(line: string): void {
    if (line.trim() === '') return;
    try {
      const parsed = JSON.parse(line) as LogLine;
      if (typeof parsed.msg === 'string') {
        this.lines.push(parsed);
        return;
      }
    } catch {
      // not a log line
    }
    this.other = (this.other + line + '\n').slice(-4000);
  }

  /** Log lines whose message starts with `prefix`. */
  logged(prefix: string, fields: Record<string, unknown> = {}): LogLine[] {
    return this.lines.filter((l) => l.msg.startsWith(prefix) && Object.entries(fields).every(([k, v]) => l[k] === v));
  }

  /** The worker's /metrics text (its address is in its 'health and metrics' log line). */
  async metrics(): Promise<string> {
    const url = this.logged('health and metrics')[0]?.url;
    if (typeof url !== 'string') throw new Error(`${this.name} has not said where it serves /metrics; ${this.tail()}`);
    const response = await fetch(`${url}/metrics`);
    return response.text();
  }

  /** The sum of `ragsync_records_total` of `stage` with `outcome` on the worker's /metrics. */
  async recordCount(stage: string, outcome: string): Promise<number> {
    const text = await this.metrics();
    const line = new RegExp(`^ragsync_records_total\\{([^}]*)\\} (\\d+)$`, 'gm');
    let total = 0;
    for (const match of text.matchAll(line)) {
      const labels = match[1]!;
      if (labels.includes(`stage="${stage}"`) && labels.includes(`outcome="${outcome}"`)) total += Number(match[2]);
    }
    return total;
  }

  /** What the worker said last, for failure messages. */
  tail(): string {
    const last = this.lines.slice(-8).map((l) => `${l.level} ${l.msg}`).join(' | ');
    return `${this.name} (pid ${this.pid}, exit ${this.exitSignal ? `by ${this.exitSignal}` : (this.exitCode ?? 'none')}): ${last}${this.other ? ` | other output: ${this.other.slice(-1500)}` : ''}`;
  }

  async waitForLog(what: string, prefix: string, fields: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<void> {
    await waitUntil(`${this.name}: ${what}`, () => {
      if (this.exitCode !== undefined) throw new Error(`${this.tail()}`);
      return this.logged(prefix, fields).length > 0;
    }, timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}; ${this.tail()}`);
    });
  }

  /** SIGKILL: no shutdown at all, as a crash or the kernel's OOM killer would stop it. */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Sends `signal` and returns at once. */
  signal(signal: NodeJS.Signals): void {
    if (this.exitCode === undefined) this.child.kill(signal);
  }

  /** SIGTERM (a graceful stop), SIGKILL if it has not exited after `graceMs`. Safe to call twice. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs a one-shot `ragsync` command to its end. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, out, err };
}
