/**
 * A real `ragsync run all` worker as a child process, its /metrics read on demand: what the
 * latency, saves and Pathway scenarios run ragsync with. Topics, Redis keys and the LanceDB folder of
 * the run's prefix are removed by `cleanup()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config/index.js';
import { withAdmin } from '../src/kafka/admin.js';
import { createKafka } from '../src/kafka/client.js';
import { applyTopics } from '../src/kafka/topics.js';
import { PROJECT_ROOT, stackEnv, stackLayout } from '../src/stack/layout.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** An isolated ragsync deployment on the local stack: its own topic, group and Redis prefix and store. */
/**
 * The arguments to run the ragsync CLI with under `node`: with `npm run bench -- --cpu-prof <dir>`,
 * every process (and each of its threads) writes a CPU profile into that folder when it exits.
 */
export function ragsyncCommand(...args: string[]): string[] {
  const dir = process.env.RAGSYNC_BENCH_CPU_PROF_DIR;
  return [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), join(PROJECT_ROOT, 'bin', 'ragsync.js'), ...args];
}

export class BenchDeployment {
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly kafka: ReturnType<typeof createKafka>;
  readonly dir: string;

  constructor(readonly prefix: string, extraEnv: Record<string, string> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'ragsync-bench-'));
    this.env = {
      ...stackEnv(stackLayout()),
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(KAFKA_|SCHEMA_REGISTRY_|REDIS_URL)/.test(k)).map(([k, v]) => [k, v ?? ''])),
      RAGSYNC_TOPIC_PREFIX: prefix,
      RAGSYNC_REDIS_PREFIX: prefix,
      RAGSYNC_PARTITIONS: '6',
      LANCEDB_PATH: join(this.dir, 'lancedb'),
      RAGSYNC_COLLECTION: prefix.replace(/[^a-z0-9]/gi, '_'),
      QDRANT_URL: '',
      EMBEDDER: 'hashing',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    };
    this.config = loadConfig({ env: this.env });
    this.kafka = createKafka(this.config);
  }

  async createTopics(): Promise<void> {
    await withAdmin(this.kafka, (admin) => applyTopics(admin, this.config));
  }

  /** Starts `ragsync run all` with this deployment's environment. */
  async start(): Promise<RunningWorker> {
    const port = await freePort();
    const child = spawn(process.execPath, ragsyncCommand('run', 'all', '--port', String(port)), { env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    return new RunningWorker(child, port);
  }

  async cleanup(): Promise<void> {
    await withAdmin(this.kafka, async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(this.prefix));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    }).catch(() => undefined);
    const redis = new Redis(this.config.redis.url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RunningWorker {
  stderr = '';
  readonly exited: Promise<void>;
  readonly startedAt = performance.now();

  constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }

  /** The worker's /metrics, or undefined while it is not listening yet. */
  async metrics(): Promise<string | undefined> {
    if (this.child.exitCode !== null) throw new Error(`the worker exited with ${this.child.exitCode}: ${this.stderr}`);
    try {
      return await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    } catch {
      return undefined;
    }
  }

  /** Waits until `done(metrics)` holds twice in a row; throws on timeout or exit. */
  async waitFor(what: string, done: (metrics: string) => boolean, timeoutMs: number, progress?: (metrics: string) => void): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    let quiet = 0;
    let last = '';
    let printed = performance.now();
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const text = await this.metrics();
      if (text === undefined) continue;
      last = text;
      if (progress && performance.now() - printed > 10_000) {
        printed = performance.now();
        progress(text);
      }
      quiet = done(text) ? quiet + 1 : 0;
      if (quiet >= 2) return text;
    }
    throw new Error(`${what}: not done within ${timeoutMs / 1000} s (${summary(last)}): ${this.stderr}`);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** Sum of a metric's samples whose labels include every pair of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).some(([k, v]) => !line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Records handled by a stage and lag of every core stage: the worker has caught up. */
export function caughtUp(text: string, stages: readonly string[], expected: Record<string, number>): boolean {
  for (const stage of stages) {
    const lagLines = text.split('\n').filter((l) => l.startsWith(`ragsync_consumer_lag{stage="${stage}"`));
    if (lagLines.length === 0 || lagLines.some((l) => Number(l.slice(l.lastIndexOf(' ') + 1)) !== 0)) return false;
  }
  return Object.entries(expected).every(([stage, n]) => metricSum(text, 'ragsync_records_total', { stage }) >= n);
}

export function summary(text: string): string {
  return ['map', 'chunk', 'embed', 'store'].map((s) => `${s}=${metricSum(text, 'ragsync_records_total', { stage: s })}`).join(' ');
}

/** A histogram's cumulative buckets (summed over series matching `labels`), by upper bound. */
export function histogramBuckets(text: string, name: string, labels: Record<string, string> = {}): Array<{ le: number; n: number }> {
  const buckets: Array<{ le: number; n: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    if (Object.entries(labels).some(([k, v]) => !line.includes(`${k}="${v}"`))) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    const at = buckets.find((b) => b.le === bound);
    if (at) at.n += n;
    else buckets.push({ le: bound, n });
  }
  return buckets.sort((a, b) => a.le - b.le);
}

/** `after` minus `before`: the observations made between two scrapes. */
export function bucketsBetween(before: Array<{ le: number; n: number }>, after: Array<{ le: number; n: number }>): Array<{ le: number; n: number }> {
  return after.map((b) => ({ le: b.le, n: b.n - (before.find((x) => x.le === b.le)?.n ?? 0) }));
}

/** The q-quantile of histogram buckets, interpolated within its bucket (Prometheus' histogram_quantile). */
export function bucketQuantile(buckets: Array<{ le: number; n: number }>, q: number): { value: number; count: number; fractionWithin: (le: number) => number } {
  const count = buckets[buckets.length - 1]?.n ?? 0;
  const fractionWithin = (le: number) => (count === 0 ? 0 : (buckets.find((b) => b.le >= le)?.n ?? count) / count);
  if (count === 0) return { value: NaN, count, fractionWithin };
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return { value: lower, count, fractionWithin };
      return { value: lower + ((rank - below) / Math.max(1, b.n - below)) * (b.le - lower), count, fractionWithin };
    }
    lower = b.le;
    below = b.n;
  }
  return { value: lower, count, fractionWithin };
}
