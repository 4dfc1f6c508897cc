/**
 * The pipeline end to end on the local stack, measured from outside as an operator would:
 *
 * 1. N mixed entities are written to a file and published with `ragsync publish` (a process of its
 *    own): the rate its summary states, and its wall time with the process's start;
 * 2. a real worker, `ragsync run all`, is started as a child process and its /metrics scraped
 *    twice a second until no stage has lag: events/s per stage and end to end, its CPU time and
 *    resident memory (`ragsync_process_resident_memory_bytes`, and the kernel's peak for the process);
 * 3. each stage named by `--alone` (default: store) runs again on its own in a fresh consumer group
 *    (and, for the store, a fresh LanceDB folder or collection) replaying what `run all` wrote:
 *    what that stage manages when it does not share the process with the others.
 *
 * Rates are steady-state figures, not records divided by the time until the lag first reached 0:
 * - a stage's rate is the records it handled divided by the time it was busy (the scrape intervals
 *   in which its record counter moved), next to its best 5-second window;
 * - the end-to-end rate in steady state is what the store completed while all four stages were
 *   busy (from the last stage's first record to the first stage's last one), so neither the start
 *   of the worker nor the drain of the last backlog is in it; beside it, every event divided by the
 *   time from the first record mapped to the last one stored, and the wall time from the worker's
 *   start to no lag.
 *
 *   npm run bench -- --scenario pipeline [--count 20000] [--partitions 6] [--alone store|none|map,chunk,embed,store]
 *                                        [--workers all|map,chunk/embed,store] [--worker-root <checkout>]
 *                                        [--cpu-prof <dir>] [--keep] [--reuse <prefix>] [--env NAME=value ...]
 *                                        [--timeout <seconds>]
 *
 * `--workers` spreads the stages over several processes (groups separated by `/`), as a deployment
 * may; the default is one `run all`. `--worker-root` runs the workers of another checkout (with its
 * own node_modules), to compare two versions under the same conditions. `--timeout` bounds each
 * run (default: 20 ms per entity, at least 120 s). `--keep` leaves the topics (and the stores) of a run; `--reuse <prefix>` then measures only the
 * stages of `--alone` on them, which is quicker when one stage is being worked on.
 *
 * Hashing embedder unless `--env EMBEDDER=…` says otherwise; LanceDB unless QDRANT_URL is set. Needs
 * the local stack (`ragsync stack up`). `main` prints its figures and returns them (bench/run.ts
 * puts them in the side-by-side results).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { CORE_STAGE_NAMES as STAGE_NAMES } from '../src/core/stages.js';
import { loadConfig, type Config } from '../src/config/index.js';
import { withAdmin } from '../src/kafka/admin.js';
import { createKafka } from '../src/kafka/client.js';
import { applyTopics } from '../src/kafka/topics.js';
import { PROJECT_ROOT, stackEnv, stackLayout } from '../src/stack/layout.js';
import { generateEntities } from '../test/support/generate-entities.js';

const say = (line: string) => console.log(line);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const rate = (n: number) => Math.round(n).toLocaleString('en-US');
const SCRAPE_MS = 500;

interface Sample {
  at: number;
  records: Map<string, number>;
  lag: Map<string, number>;
  rss: number;
  heap: number;
  external: number;
  cpu: number;
}

interface StageFigures {
  stage: string;
  records: number;
  busySeconds: number;
  bestWindow: number;
}

function parseMetrics(text: string): Omit<Sample, 'at'> {
  const records = new Map<string, number>();
  const lag = new Map<string, number>();
  let rss = 0;
  let heap = 0;
  let external = 0;
  let threadHeap = 0;
  let threadExternal = 0;
  let cpu = 0;
  for (const line of text.split('\n')) {
    let m = /^ragsync_records_total\{stage="([^"]+)",outcome="[^"]+"\} (\S+)$/.exec(line);
    if (m) records.set(m[1]!, (records.get(m[1]!) ?? 0) + Number(m[2]));
    m = /^ragsync_consumer_lag\{stage="([^"]+)",group="[^"]+"\} (\S+)$/.exec(line);
    if (m) lag.set(m[1]!, Number(m[2]));
    m = /^ragsync_process_resident_memory_bytes (\S+)$/.exec(line);
    if (m) rss = Number(m[1]);
    m = /^ragsync_process_process_cpu_seconds_total (\S+)$/.exec(line);
    if (m) cpu = Number(m[1]);
    // Every thread's V8 heap and the buffers outside it, summed (the process' own nodejs_* gauges
    // see the main thread only).
    m = /^ragsync_thread_heap_bytes\{thread="[^"]+",kind="(total|external)"\} (\S+)$/.exec(line);
    if (m?.[1] === 'total') threadHeap += Number(m[2]);
    if (m?.[1] === 'external') threadExternal += Number(m[2]);
    m = /^ragsync_process_nodejs_heap_size_total_bytes (\S+)$/.exec(line);
    if (m) heap = Number(m[1]);
    m = /^ragsync_process_nodejs_external_memory_bytes (\S+)$/.exec(line);
    if (m) external = Number(m[1]);
  }
  if (threadHeap > 0) [heap, external] = [threadHeap, threadExternal];
  return { records, lag, rss, heap, external, cpu };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function brokerPid(): number | undefined {
  try {
    return Number(readFileSync(join(stackLayout().run, 'kafka.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

function peakOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** One worker process of a run: what it was started with and what it used. */
interface ProcessFigures {
  stages: string[];
  /** Per scrape: resident memory, V8 heap, buffers outside it, cpu seconds. */
  samples: Array<{ rss: number; heap: number; external: number; cpu: number }>;
  /** The kernel's high-water mark of the process's resident memory (VmHWM), when readable. */
  hwm: number | undefined;
}

interface WorkerRun {
  /** Merged over the processes: every stage runs in exactly one of them. */
  samples: Sample[];
  processes: ProcessFigures[];
  brokerCpu: number | undefined;
}

/**
 * Starts one `ragsync run <stages>` per group with `env`, scrapes them until every stage has
 * handled its input and no stage has lag, stops them.
 */
async function runWorkers(groups: string[][], env: Record<string, string>, options: { label: string; expect: (sample: Sample) => boolean; cpuProfDir?: string; timeoutMs: number; root: string }): Promise<WorkerRun> {
  const broker = brokerPid();
  const brokerBefore = processCpuSeconds(broker);
  const stageCount = groups.flat().reduce((n, s) => n + (s === 'all' ? STAGE_NAMES.length : 1), 0);
  const workers = await Promise.all(
    groups.map(async (stages, index) => {
      const port = await freePort();
      const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, String(index))}`] : [];
      const child: ChildProcess = spawn(process.execPath, [...profile, join(options.root, 'bin', 'ragsync.js'), 'run', ...stages, '--port', String(port)], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const worker = { stages, port, child, stderr: '', exited: new Promise<void>((resolve) => child.once('exit', () => resolve())), figures: { stages, samples: [], hwm: undefined } as ProcessFigures };
      child.stderr?.on('data', (chunk: Buffer) => (worker.stderr = (worker.stderr + chunk.toString()).slice(-4000)));
      return worker;
    }),
  );
  const startedAt = performance.now();
  const samples: Sample[] = [];
  let lastPrint = 0;
  let quiet = 0;
  try {
    for (;;) {
      for (const w of workers) if (w.child.exitCode !== null) throw new Error(`the worker of ${w.stages.join(' ')} exited with ${w.child.exitCode}: ${w.stderr}`);
      if (performance.now() - startedAt > options.timeoutMs) {
        const last = samples[samples.length - 1];
        throw new Error(`${options.label} did not finish within ${options.timeoutMs / 1000} s (records ${JSON.stringify([...(last?.records ?? [])])}): ${workers.map((w) => w.stderr).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, SCRAPE_MS));
      let texts: string[];
      try {
        texts = await Promise.all(workers.map(async (w) => (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text()));
      } catch {
        continue; // not listening yet
      }
      const parsed = texts.map(parseMetrics);
      parsed.forEach((p, i) => workers[i]!.figures.samples.push({ rss: p.rss, heap: p.heap, external: p.external, cpu: p.cpu }));
      const sample: Sample = {
        at: (performance.now() - startedAt) / 1000,
        records: new Map(parsed.flatMap((p) => [...p.records])),
        lag: new Map(parsed.flatMap((p) => [...p.lag])),
        rss: parsed.reduce((n, p) => n + p.rss, 0),
        heap: parsed.reduce((n, p) => n + p.heap, 0),
        external: parsed.reduce((n, p) => n + p.external, 0),
        cpu: parsed.reduce((n, p) => n + p.cpu, 0),
      };
      samples.push(sample);
      if (sample.at - lastPrint >= 10) {
        lastPrint = sample.at;
        const done = [...sample.records].map(([s, n]) => `${s}=${n}`).join(' ') || 'none';
        const lags = [...sample.lag].map(([s, l]) => `${s}=${l}`).join(' ') || 'starting';
        say(`  ${options.label} ${sample.at.toFixed(0)} s: records ${done}; lag ${lags}; rss ${parsed.map((p) => mb(p.rss)).join(' + ')}`);
      }
      // Retry consumers (`store.retry`) report lag too: every stage must have reported, and nothing lag.
      const reported = [...sample.lag.keys()].filter((s) => (STAGE_NAMES as readonly string[]).includes(s)).length;
      const done = reported === stageCount && [...sample.lag.values()].every((l) => l === 0) && options.expect(sample);
      quiet = done ? quiet + 1 : 0;
      if (quiet >= 2) break;
    }
    for (const w of workers) w.figures.hwm = peakOf(w.child.pid);
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
  const brokerAfter = processCpuSeconds(broker);
  return { samples, processes: workers.map((w) => w.figures), brokerCpu: brokerBefore !== undefined && brokerAfter !== undefined ? brokerAfter - brokerBefore : undefined };
}

/** Records ÷ busy time, and the best 5-second window, of one stage. */
function stageFigures(samples: Sample[], stage: string): StageFigures {
  let busy = 0;
  let best = 0;
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!.records.get(stage) ?? 0;
    if ((samples[i]!.records.get(stage) ?? 0) > before) busy += samples[i]!.at - samples[i - 1]!.at;
    for (let j = i - 1; j >= 0; j--) {
      const span = samples[i]!.at - samples[j]!.at;
      if (span >= 5) {
        best = Math.max(best, ((samples[i]!.records.get(stage) ?? 0) - (samples[j]!.records.get(stage) ?? 0)) / span);
        break;
      }
    }
  }
  const records = samples[samples.length - 1]?.records.get(stage) ?? 0;
  return { stage, records, busySeconds: busy, bestWindow: best };
}

/** When `stage`'s counter first reached `count` (interpolated between scrapes). */
function timeAt(samples: Sample[], stage: string, count: number): number {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const na = a.records.get(stage) ?? 0;
    const nb = b.records.get(stage) ?? 0;
    if (nb >= count) return nb === na ? b.at : a.at + ((count - na) / (nb - na)) * (b.at - a.at);
  }
  return samples[samples.length - 1]?.at ?? 0;
}

/** A stage's record count at time `at` (interpolated between scrapes). */
function valueAt(samples: Sample[], stage: string, at: number): number {
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (b.at >= at) {
      const na = a.records.get(stage) ?? 0;
      const nb = b.records.get(stage) ?? 0;
      return at <= a.at ? na : na + ((at - a.at) / (b.at - a.at)) * (nb - na);
    }
  }
  return samples[samples.length - 1]?.records.get(stage) ?? 0;
}

function printStages(run: WorkerRun, stages: readonly string[]): void {
  for (const stage of stages) {
    const f = stageFigures(run.samples, stage);
    const perSecond = f.busySeconds > 0 ? f.records / f.busySeconds : 0;
    say(`  ${stage.padEnd(5)}: ${rate(f.records)} records, ${rate(perSecond)}/s while busy (${f.busySeconds.toFixed(1)} s), best 5 s window ${rate(f.bestWindow)}/s`);
  }
}

function printResources(run: WorkerRun): void {
  const seconds = run.samples[run.samples.length - 1]!.at;
  if (run.brokerCpu !== undefined) say(`  Kafka broker: ${run.brokerCpu.toFixed(1)} s cpu`);
  for (const p of run.processes) {
    const last = p.samples[p.samples.length - 1]!;
    const peak = (f: (s: ProcessFigures['samples'][number]) => number) => mb(Math.max(...p.samples.map(f)));
    say(
      `  worker (${p.stages.join(' ')}): ${last.cpu.toFixed(1)} s cpu in ${seconds.toFixed(1)} s (${(last.cpu / seconds).toFixed(2)} cores); ` +
        `rss ${mb(p.samples[0]?.rss ?? 0)} at start, peak ${peak((s) => s.rss)} on /metrics${p.hwm ? `, ${mb(p.hwm)} by the kernel (VmHWM)` : ''} ` +
        `(V8 heaps of all threads at most ${peak((s) => s.heap)}, buffers outside them ${peak((s) => s.external)})`,
    );
  }
}

/** What a run measured, for the side-by-side results (bench/run.ts); the same figures it prints. */
export interface PipelineFigures {
  count: number;
  partitions: number;
  embedder: string;
  /** `seconds` is the command's own (its summary), `wallSeconds` the process's with its start. */
  publish?: { records: number; seconds: number; perSecond: number; wallSeconds: number };
  runAll?: {
    /** Store completions per second while all four stages were busy; undefined without 2 s of that. */
    steadyPerSecond?: number;
    steadySeconds: number;
    /** Every event ÷ the time from the first record mapped to the last one stored. */
    endToEndPerSecond: number;
    /** From the worker's start to no lag: the backlog searchable. */
    secondsToNoLag: number;
    stages: Array<StageFigures & { perSecond: number }>;
    processes: Array<{ stages: string[]; cpuSeconds: number; peakRss: number; hwm?: number; peakHeap: number }>;
  };
  alone: Array<{ stage: string; perSecond: number; records: number; busySeconds: number; bestWindow: number; peakRss: number; hwm?: number }>;
}

function processFigures(run: WorkerRun): NonNullable<PipelineFigures['runAll']>['processes'] {
  return run.processes.map((p) => ({
    stages: p.stages,
    cpuSeconds: p.samples[p.samples.length - 1]?.cpu ?? 0,
    peakRss: Math.max(0, ...p.samples.map((s) => s.rss)),
    ...(p.hwm !== undefined ? { hwm: p.hwm } : {}),
    peakHeap: Math.max(0, ...p.samples.map((s) => s.heap)),
  }));
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<PipelineFigures> {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '20000' },
      partitions: { type: 'string', default: '6' },
      alone: { type: 'string', default: 'store' },
      keep: { type: 'boolean', default: false },
      reuse: { type: 'string' },
      'cpu-prof': { type: 'string' },
      workers: { type: 'string', default: 'all' },
      'worker-root': { type: 'string', default: PROJECT_ROOT },
      env: { type: 'string', multiple: true, default: [] },
      timeout: { type: 'string' },
    },
  });
  const count = Number(args.count);
  if (args.timeout !== undefined && !(Number(args.timeout) > 0)) throw new Error(`--timeout: "${args.timeout}" is not a number of seconds`);
  const alone = args.alone === 'none' ? [] : args.alone!.split(',').map((s) => s.trim());
  for (const s of alone) if (!(STAGE_NAMES as readonly string[]).includes(s)) throw new Error(`--alone: unknown stage ${s}`);
  // Stages per worker process: `all`, or groups like `map,chunk/embed,store` (one process each).
  const workers = args.workers!.split('/').map((group) => group.split(',').map((s) => s.trim()));
  for (const s of workers.flat()) if (s !== 'all' && !(STAGE_NAMES as readonly string[]).includes(s)) throw new Error(`--workers: unknown stage ${s}`);
  const extraEnv = Object.fromEntries(args.env!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));

  const prefix = args.reuse ?? `bench${Date.now().toString(36)}.`;
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-bench-'));
  const baseEnv: Record<string, string> = {
    ...stackEnv(stackLayout()),
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(KAFKA_|SCHEMA_REGISTRY_|REDIS_URL|QDRANT_)/.test(k)).map(([k, v]) => [k, v ?? ''])),
    RAGSYNC_TOPIC_PREFIX: prefix,
    RAGSYNC_REDIS_PREFIX: prefix,
    RAGSYNC_PARTITIONS: args.partitions!,
    LANCEDB_PATH: join(dir, 'lancedb'),
    RAGSYNC_COLLECTION: prefix.replace(/[^a-z0-9]/gi, '_'),
    EMBEDDER: 'hashing',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const config: Config = loadConfig({ env: baseEnv });
  const kafka = createKafka(config);
  await withAdmin(kafka, (admin) => applyTopics(admin, config));
  const store = config.store.qdrantUrl ? `Qdrant at ${config.store.qdrantUrl}` : 'LanceDB';
  const figures: PipelineFigures = { count, partitions: Number(args.partitions), embedder: baseEnv.EMBEDDER === 'openai' ? `openai:${baseEnv.EMBEDDING_MODEL} at ${baseEnv.EMBEDDING_URL}` : baseEnv.EMBEDDER!, alone: [] };
  try {
    const timeoutMs = args.timeout !== undefined ? Number(args.timeout) * 1000 : Math.max(120_000, count * 20);
    const handled = args.reuse ? undefined : await publishAndRunAll(kafka, config, baseEnv, { count, partitions: args.partitions!, store, cpuProfDir: args['cpu-prof'], timeoutMs, prefix, workers, root: args['worker-root']!, figures, dir });
    // Reverse pipeline order: what a stage alone writes is never the input of one measured after it.
    for (const stage of [...STAGE_NAMES].reverse().filter((s) => alone.includes(s))) {
      const fresh = `${prefix}${stage}alone${Date.now().toString(36)}.`;
      const env = {
        ...baseEnv,
        RAGSYNC_GROUP_PREFIX: fresh,
        // A cold embedding cache, as in the run: otherwise every set would be a touch.
        RAGSYNC_REDIS_PREFIX: fresh,
        LANCEDB_PATH: join(dir, `lancedb-${stage}-alone`),
        RAGSYNC_COLLECTION: `${baseEnv.RAGSYNC_COLLECTION}_${stage}`,
      };
      const expected = handled?.get(stage) ?? 1;
      const run = await runWorkers([[stage]], env, {
        label: `${stage} alone`,
        expect: (s) => (s.records.get(stage) ?? 0) >= expected,
        ...(args['cpu-prof'] ? { cpuProfDir: join(args['cpu-prof'], `${stage}-alone`) } : {}),
        timeoutMs,
        root: args['worker-root']!,
      });
      const f = stageFigures(run.samples, stage);
      say(`${stage} alone: ${rate(f.busySeconds > 0 ? f.records / f.busySeconds : 0)} records/s while busy (${rate(f.records)} records in ${f.busySeconds.toFixed(1)} s), best 5 s window ${rate(f.bestWindow)}/s`);
      printResources(run);
      const p = processFigures(run)[0];
      figures.alone.push({ stage, perSecond: f.busySeconds > 0 ? f.records / f.busySeconds : 0, records: f.records, busySeconds: f.busySeconds, bestWindow: f.bestWindow, peakRss: p?.peakRss ?? 0, ...(p?.hwm !== undefined ? { hwm: p.hwm } : {}) });
    }
    return figures;
  } finally {
    if (args.reuse) {
      rmSync(dir, { recursive: true, force: true });
      await deleteRedisKeys(config.redis.url, `${prefix}*alone*`);
    } else if (!args.keep) {
      await withAdmin(kafka, async (admin) => {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
        if (topics.length > 0) await admin.deleteTopics({ topics });
      });
      rmSync(dir, { recursive: true, force: true });
      await deleteRedisKeys(config.redis.url, `${prefix}*`);
    }
  }
}

/**
 * Runs `ragsync publish --json <file>` as a user would (a process of its own, from `root`), and
 * returns its summary with the wall time of the process beside the run's own `seconds`.
 */
async function publishFile(file: string, env: Record<string, string>, root: string): Promise<{ published: number; seconds: number; wallSeconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin', 'ragsync.js'), 'publish', '--json', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wallSeconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`ragsync publish exited with ${code}: ${stdout.slice(-2000)}${stderr}`);
  const summary = JSON.parse(stdout) as { published: number; seconds?: number };
  // A checkout from before the summary stated its time (--worker-root): the wall time stands in.
  return { published: summary.published, seconds: typeof summary.seconds === 'number' ? summary.seconds : wallSeconds, wallSeconds };
}

/** Publishes `count` entities, then runs `run all` until no stage has lag; returns what each stage handled. */
async function publishAndRunAll(
  kafka: ReturnType<typeof createKafka>,
  config: Config,
  baseEnv: Record<string, string>,
  options: { count: number; partitions: string; store: string; cpuProfDir: string | undefined; timeoutMs: number; prefix: string; workers: string[][]; root: string; figures: PipelineFigures; dir: string },
): Promise<Map<string, number>> {
  const { count, prefix, timeoutMs, workers } = options;
  const file = join(options.dir, 'entities.ndjson');
  writeFileSync(file, generateEntities(count, { tenant: 'bench', seed: 7 }).map((l) => `${JSON.stringify(l)}\n`).join(''));
  say(`publishing ${count} entities to ${prefix}changes.* with \`ragsync publish\` (${options.partitions} partitions; ${options.figures.embedder} embedder, ${options.store})…`);
  const summary = await publishFile(file, baseEnv, options.root);
  rmSync(file, { force: true });
  say(
    `publish: ${summary.published} records in ${summary.seconds.toFixed(1)} s = ${rate(summary.published / summary.seconds)} events/s (the command's own summary); ` +
      `${summary.wallSeconds.toFixed(1)} s = ${rate(summary.published / summary.wallSeconds)}/s with the process's start`,
  );
  options.figures.publish = { records: summary.published, seconds: summary.seconds, perSecond: summary.published / summary.seconds, wallSeconds: summary.wallSeconds };

  const all = await runWorkers(options.workers, baseEnv, {
    label: workers.length === 1 && workers[0]![0] === 'all' ? 'run all' : 'run',
    expect: (s) => (s.records.get('map') ?? 0) >= summary.published,
    ...(options.cpuProfDir ? { cpuProfDir: join(options.cpuProfDir, 'run-all') } : {}),
    timeoutMs,
    root: options.root,
  });
  const stored = stageFigures(all.samples, 'store').records;
  // Steady state: from the moment the last stage handled its first record to the moment the first
  // stage handled its last one, every stage is busy; what the store completes then is the pipeline's rate.
  const from = Math.max(...STAGE_NAMES.map((s) => timeAt(all.samples, s, 1)));
  const to = Math.min(...STAGE_NAMES.map((s) => timeAt(all.samples, s, stageFigures(all.samples, s).records)));
  const storedBetween = valueAt(all.samples, 'store', to) - valueAt(all.samples, 'store', from);
  const firstMapped = timeAt(all.samples, 'map', 1);
  const lastStored = timeAt(all.samples, 'store', stored);
  const label = workers.length === 1 && workers[0]![0] === 'all' ? 'run all' : `run ${workers.map((g: string[]) => g.join(',')).join(' + ')}`;
  say(
    `${label}: ${to - from >= 2 ? `${rate(storedBetween / (to - from))} events/s end to end in steady state (all four stages busy for ${(to - from).toFixed(1)} s)` : 'no steady state (the stages were never busy together for 2 s)'}; ` +
      `${rate(summary.published / Math.max(lastStored - firstMapped, 1e-9))} events/s from the first record mapped to the last stored (${(lastStored - firstMapped).toFixed(1)} s); ` +
      `${(all.samples[all.samples.length - 1]!.at).toFixed(1)} s from the worker's start to no lag`,
  );
  printStages(all, STAGE_NAMES);
  printResources(all);
  options.figures.runAll = {
    ...(to - from >= 2 ? { steadyPerSecond: storedBetween / (to - from) } : {}),
    steadySeconds: Math.max(0, to - from),
    endToEndPerSecond: summary.published / Math.max(lastStored - firstMapped, 1e-9),
    secondsToNoLag: all.samples[all.samples.length - 1]!.at,
    stages: STAGE_NAMES.map((s) => {
      const f = stageFigures(all.samples, s);
      return { ...f, perSecond: f.busySeconds > 0 ? f.records / f.busySeconds : 0 };
    }),
    processes: processFigures(all),
  };
  return new Map(STAGE_NAMES.map((s) => [s, stageFigures(all.samples, s).records]));
}

/** The embedding cache of a run (every key matching `pattern`), which is large. */
async function deleteRedisKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
