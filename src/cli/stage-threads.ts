import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { ConfigError } from '../core/errors.js';
import type { StageHealth } from '../kafka/stage-runner.js';
import type { Logger } from '../observability/logger.js';
import type { HealthSource } from '../observability/http.js';
import type { Metrics } from '../observability/metrics.js';
import type { Config } from '../config/index.js';
import type { EntityType } from '../core/entities.js';
import type { CollectionSpec } from '../stores/index.js';
import { Pipeline, STAGE_NAMES, type StageName } from './pipeline.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Requests of the main thread to a stage thread. */
export type ToThread = { type: 'metrics'; id: number } | { type: 'health'; id: number } | { type: 'stop' };

/** What a stage thread tells the main thread. */
export type FromThread =
  | { type: 'started'; embedderNote: string; embedderFallback: boolean }
  | { type: 'failed'; message: string; configError: boolean }
  | { type: 'metrics'; id: number; data: MetricsJson; error?: string }
  | { type: 'health'; id: number; health: StageHealth[] }
  | { type: 'stopped' };

/**
 * What a stage thread builds its pipeline from besides its stages; it crosses to the thread as a
 * structured clone. Empty: `run`'s pipeline, configured from the environment, logging as the process does.
 */
export interface StageThreadSetup {
  /** The configuration; undefined: loaded from the environment in the thread. */
  config?: Config;
  /** The thread logger's level, and whether it writes to stderr (stdout: undefined). */
  log?: { level: string; stderr: boolean };
  /** A resync's pipeline (src/resync/resync-pipeline.ts) instead of `run`'s. */
  resync?: { spec?: CollectionSpec | undefined; tenant?: string | undefined; types?: EntityType[] | undefined; everything: boolean };
}

/** How often the main thread asks each stage for its health (/healthz and /readyz read the latest). */
const HEALTH_POLL_MS = 1_000;
/** How long a scrape waits for a thread's metrics before serving the others'. */
const METRICS_WAIT_MS = 3_000;

/**
 * How `stages` (in pipeline order) are spread over threads, from `runner.threads`: `auto` (one
 * thread per core but one, at most one per stage), a number of threads, or explicit groups
 * (`map,chunk/embed,store`). A number splits the stages into that many runs of neighbours, map
 * alone first: it costs the most CPU per record (mapping, HTML to text, writing its state).
 *
 * `auto` leaves a core to what runs beside the stages (LanceDB's native threads, the collector's
 * helpers, on small machines the broker): a single thread running all four stages already keeps
 * 1.3 cores busy, and on two cores it indexed faster than two stage threads at 28 % less CPU
 * (docs/performance.md), each thread paying for its own heap, collector and clients.
 */
export function threadGroups(stages: readonly StageName[], setting: string, cores = availableParallelism()): StageName[][] {
  const value = setting.trim();
  if (value.includes('/') || value.includes(',') || (STAGE_NAMES as readonly string[]).includes(value)) {
    const groups = value.split('/').map((g) => g.split(',').map((s) => s.trim()).filter(Boolean));
    const named = groups.flat();
    const unknown = named.filter((s) => !(STAGE_NAMES as readonly string[]).includes(s));
    if (unknown.length > 0) throw new ConfigError(`RAGSYNC_STAGE_THREADS (runner.threads): unknown stage ${unknown.join(', ')} in "${setting}"`);
    const missing = stages.filter((s) => !named.includes(s));
    const extra = named.filter((s) => !stages.includes(s as StageName));
    if (missing.length > 0 || extra.length > 0 || new Set(named).size !== named.length) {
      throw new ConfigError(`RAGSYNC_STAGE_THREADS (runner.threads): "${setting}" must name each stage run (${stages.join(', ')}) exactly once`);
    }
    return groups.filter((g) => g.length > 0) as StageName[][];
  }
  let count: number;
  if (value === 'auto') count = Math.max(1, cores - 1);
  else if (/^\d+$/.test(value) && Number(value) >= 1) count = Number(value);
  else throw new ConfigError(`RAGSYNC_STAGE_THREADS (runner.threads): expected auto, a number of threads or groups like map,chunk/embed,store, got "${setting}"`);
  count = Math.min(count, stages.length);
  if (count <= 1) return [[...stages]];
  // Map first on a thread of its own, the rest split evenly in order.
  const [first, ...rest] = stages;
  const groups: StageName[][] = [[first!]];
  const size = Math.ceil(rest.length / (count - 1));
  for (let i = 0; i < rest.length; i += size) groups.push(rest.slice(i, i + size));
  return groups;
}

/**
 * The stages of one `ragsync run` process spread over threads, so that a process running several
 * stages uses several cores: every stage's CPU-bound work (decoding, mapping, chunking, embedding,
 * encoding, kafkajs' request encoding) runs on the thread that runs the stage, and one thread
 * running all four stages is the limit of a whole `run all` long before the cores are.
 *
 * The first group runs on the main thread; every other group in a worker thread of its own, a
 * complete pipeline (its own Kafka clients, embedder, store) built from the same configuration,
 * like a process of its own. They share the process' memory and its /metrics and health
 * endpoints, which the main thread serves by asking each thread. A thread that exits unexpectedly
 * shows its stages as `crashed` on /healthz, as a stage whose consumer crashed does.
 */
export class StageThreads {
  private readonly threads: StageThread[] = [];
  private local: Pipeline | undefined;
  embedderNote = '';
  embedderFallback = false;

  /**
   * `setup` goes to every worker thread; `local` builds the pipeline of the group the main thread
   * runs (only when there is one group) and must match it. Both default to `run`'s pipeline.
   */
  constructor(
    private readonly options: { config: Config; metrics: Metrics; logger: Logger; setup?: StageThreadSetup; local?: () => Pipeline },
  ) {}

  /** Starts every group and resolves once every stage runs; throws (after stopping the others) when one fails to start. */
  async start(groups: readonly StageName[][]): Promise<void> {
    // Several groups: every one on a thread of its own, each with a bounded heap, and the main
    // thread left to serve /metrics and health. A single group runs on the main thread.
    const [own, ...others] = groups.length > 1 ? [[], ...groups] : groups;
    const setup = this.options.setup ?? {};
    for (const group of others) this.threads.push(new StageThread(group, this.options.logger, stageThreadLimits(this.options.config.runner), setup));
    const local = own && own.length > 0 ? (this.options.local?.() ?? new Pipeline(this.options)) : undefined;
    this.local = local;
    const results = await Promise.allSettled([
      ...(local ? [local.start(own!).then(() => ({ embedderNote: local.embedderNote, embedderFallback: local.embedderFallback }))] : []),
      ...this.threads.map((t) => t.started),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
    const notes = results.map((r) => (r as PromiseFulfilledResult<{ embedderNote: string; embedderFallback: boolean }>).value);
    this.embedderNote = notes.find((n) => n.embedderNote)?.embedderNote ?? '';
    this.embedderFallback = notes.some((n) => n.embedderFallback);
  }

  /** Health of every stage, as last reported (a thread that died reports `crashed`). */
  sources(): HealthSource[] {
    return [...(this.local?.runners ?? []), ...this.threads.flatMap((t) => t.health().map((h) => ({ health: () => h })))];
  }

  /** Every stage's health with its group, as last reported (a thread's every second). */
  stageHealth(): StageHealth[] {
    return [...(this.local?.runners.map((r) => r.health()) ?? []), ...this.threads.flatMap((t) => t.health())];
  }

  /** The process' registry and every thread's, merged (counters and gauges of one series added up). */
  async metricsText(): Promise<string> {
    const own = await this.options.metrics.registry.getMetricsAsJSON();
    const theirs = await Promise.all(this.threads.map((t) => t.metrics()));
    return AggregatorRegistry.aggregate([own, ...theirs] as MetricsJson[]).metrics();
  }

  /** Graceful: each stage finishes its in-flight batches, commits and leaves its group. */
  async stop(): Promise<void> {
    await Promise.all([this.local?.stop(), ...this.threads.map((t) => t.stop())]);
  }
}

class StageThread {
  private readonly worker: Worker;
  readonly started: Promise<{ embedderNote: string; embedderFallback: boolean }>;
  private last: StageHealth[];
  private exited = false;
  private stopRequested = false;
  private nextId = 0;
  private readonly waiting = new Map<number, (message: FromThread) => void>();
  private readonly poll: NodeJS.Timeout;
  private readonly done: Promise<void>;

  constructor(
    private readonly stages: StageName[],
    private readonly logger: Logger,
    limits: ResourceLimits,
    setup: StageThreadSetup,
  ) {
    const heapMb = limits.maxOldGenerationSizeMb;
    const stage = stages.join(',');
    this.last = stages.map((name) => ({ stage: name, group: '', state: 'created', pausedPartitions: [] }));
    this.worker = spawnStageThread(stages, limits, setup);
    let settleStart: { resolve: (v: { embedderNote: string; embedderFallback: boolean }) => void; reject: (e: Error) => void };
    this.started = new Promise((resolve, reject) => (settleStart = { resolve, reject }));
    // Rejected only when the caller is told through start(); never unhandled.
    this.started.catch(() => undefined);
    this.worker.on('message', (message: FromThread) => {
      if (message.type === 'started') settleStart.resolve(message);
      else if (message.type === 'failed') settleStart.reject(message.configError ? new ConfigError(message.message) : new Error(`stage ${stage}: ${message.message}`));
      else if (message.type === 'metrics' || message.type === 'health') {
        this.waiting.get(message.id)?.(message);
        this.waiting.delete(message.id);
      }
    });
    this.done = new Promise((resolve) => {
      this.worker.on('error', (error) => {
        if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
          this.logger.error({ stage, heapMb }, 'stage thread ran out of its heap (runner.threadHeapMb, RAGSYNC_THREAD_HEAP_MB): raise it, or lower the records and bytes in flight (runner.maxRecordsPerCall, fetch sizes)');
        } else this.logger.error({ stage, err: error.message }, 'stage thread failed');
        settleStart.reject(new Error(`stage ${stage}: ${error.message}`));
      });
      this.worker.on('exit', (code) => {
        this.exited = true;
        clearInterval(this.poll);
        for (const answer of this.waiting.values()) answer({ type: 'stopped' });
        this.waiting.clear();
        settleStart.reject(new Error(`stage ${stage}: its thread exited (code ${code}) before the stage started`));
        if (!this.stopRequested) {
          this.logger.error({ stage, code }, 'stage thread exited; only a restart of the process brings the stage back');
          this.last = this.last.map((h) => ({ ...h, state: 'crashed' }));
        } else this.last = this.last.map((h) => ({ ...h, state: 'stopped' }));
        resolve();
      });
    });
    this.poll = setInterval(() => void this.refreshHealth(), HEALTH_POLL_MS);
    this.poll.unref();
  }

  health(): StageHealth[] {
    return this.last;
  }

  private request(type: 'metrics' | 'health', waitMs: number): Promise<FromThread | undefined> {
    if (this.exited) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, waitMs);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.worker.postMessage({ type, id } satisfies ToThread);
    });
  }

  private async refreshHealth(): Promise<void> {
    const answer = await this.request('health', HEALTH_POLL_MS * 5);
    if (answer?.type === 'health' && answer.health.length > 0 && !this.exited) this.last = answer.health;
  }

  async metrics(): Promise<MetricsJson> {
    const answer = await this.request('metrics', METRICS_WAIT_MS);
    if (answer?.type !== 'metrics') return [];
    if (answer.error) this.logger.warn({ stages: this.stages, err: answer.error }, 'a stage thread could not read its metrics');
    return answer.data;
  }

  /**
   * Asks the thread to stop and waits until it has ended by itself. Never `worker.terminate()`
   * (nor `process.exit()` inside the thread): tearing a thread down while a LanceDB call is in
   * flight corrupts the process' heap (a plain script that ends a thread so crashed 10 times in
   * 10, with LanceDB 0.30 and 0.39 alike), where a thread that ends by itself waits for its calls.
   */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.stopRequested = true;
    this.worker.postMessage({ type: 'stop' } satisfies ToThread);
    await this.done;
  }
}

/**
 * The V8 limits of a stage thread: its old generation capped (runner.threadHeapMb) and its young
 * generation (runner.threadYoungMb) smaller than V8's default of 48 MB (two 16 MB semi-spaces and
 * room for large new objects), which short-lived garbage fills, and keeps resident, in every thread.
 */
export function stageThreadLimits(runner: { threadHeapMb: number; threadYoungMb: number }): ResourceLimits {
  return { maxOldGenerationSizeMb: runner.threadHeapMb, maxYoungGenerationSizeMb: runner.threadYoungMb };
}

/**
 * A worker thread running stage-thread. From the TypeScript sources (a clone run through tsx) the
 * thread registers tsx itself first: loaders registered in the main thread do not reach workers.
 */
function spawnStageThread(stages: StageName[], resourceLimits: ResourceLimits, setup: StageThreadSetup): Worker {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const entry = new URL(`./stage-thread${extension}`, import.meta.url).href;
  const workerData = { stages, ...setup };
  if (extension === '.js') return new Worker(new URL(entry), { workerData, resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}
