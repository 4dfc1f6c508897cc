/**
 * `npm run bench [-- --scenario <name>[,<name>…]] [--quick]`
 *
 * Runs the side-by-side scenarios (every one without `--scenario`) on the local stack
 * (`ragsync stack up`; `export $(ragsync stack env)`), with a shared OpenAI-compatible embedding
 * endpoint started here (bench/embedding-server.ts), and writes `bench/results/<date>-<scenario>.json`
 * (every raw figure, the machine, the versions, the configuration) and `.md` (the table, also
 * printed): each figure next to its target and to what it is compared with in the same run.
 * `--quick` runs every scenario at a small size (minutes, not hours), so CI exercises the harness.
 * It builds the package first: every ragsync process runs from dist/ with MALLOC_ARENA_MAX=2,
 * MALLOC_MMAP_THRESHOLD_=524288 and NODE_OPTIONS=--max-semi-space-size=8, as the Docker image runs it.
 * `--cpu-prof <dir>` has every ragsync process the scenarios start (workers, `webhook serve`,
 * `resync`) write a V8 CPU profile per thread into `<dir>` when it exits; `npm run bench:profile --
 * <dir>` summarizes them.
 *
 * Scenarios: limits, catalog-diff, webhook, pipeline-hashing, pipeline-minilm, latency, saves,
 * baseline (the seed design, bench/baseline/), pathway (bench/peers/pathway/), resync. Besides:
 * `pipeline [options]` runs bench/pipeline.bench.ts with its own options (--count, --alone, …) and
 * `commerce [options]` bench/commerce.bench.ts; both print their figures and write no results file.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { main as commerce } from './commerce.bench.js';
import { startEmbeddingServer } from './embedding-server.js';
import { main as pipeline } from './pipeline.bench.js';
import { describeMachine } from './report/machine.js';
import { renderTable, writeResults, type BenchResults, type Figure } from './report/results.js';
import { baselineScenario } from './scenarios/baseline.js';
import type { BenchContext, Scenario } from './scenarios/context.js';
import { catalogDiffScenario } from './scenarios/catalog-diff.js';
import { latencyScenario } from './scenarios/latency.js';
import { limitsScenario } from './scenarios/limits.js';
import { pathwayScenario } from './scenarios/pathway.js';
import { pipelineHashingScenario, pipelineMiniLmScenario } from './scenarios/pipeline.js';
import { resyncScenario } from './scenarios/resync.js';
import { savesScenario } from './scenarios/saves.js';
import { webhookScenario } from './scenarios/webhook.js';
import { PROJECT_ROOT } from '../src/stack/layout.js';

/** In the order they run: the limits first, since the others compare with them. */
export const SCENARIOS: readonly Scenario[] = [limitsScenario, catalogDiffScenario, webhookScenario, pipelineHashingScenario, pipelineMiniLmScenario, latencyScenario, savesScenario, baselineScenario, pathwayScenario, resyncScenario];

/** Scenarios of their own, with their own options, printing their figures. */
const STANDALONE: Record<string, (args: string[]) => Promise<unknown> | unknown> = {
  pipeline: (args) => pipeline(args),
  commerce: (args) => commerce(args),
};

/** `--name <value>` or `--name=<value>`, taken out of the arguments. */
function take(argv: string[], name: string): string | undefined {
  const at = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (at < 0) return undefined;
  const flag = argv[at]!;
  if (flag.includes('=')) {
    argv.splice(at, 1);
    return flag.slice(flag.indexOf('=') + 1);
  }
  const [, value] = argv.splice(at, 2);
  return value ?? '';
}

const argv = process.argv.slice(2);
const scenario = take(argv, 'scenario') ?? 'all';
const quickAt = argv.indexOf('--quick');
const quick = quickAt >= 0;
if (quick) argv.splice(quickAt, 1);

if (STANDALONE[scenario]) {
  await STANDALONE[scenario](argv);
  process.exit(0);
}
// (`pipeline` and `commerce` take their own --cpu-prof.)
const cpuProfDir = take(argv, 'cpu-prof');
if (cpuProfDir !== undefined) {
  if (cpuProfDir === '' || cpuProfDir.startsWith('--')) {
    console.error('--cpu-prof needs a directory to write the profiles into');
    process.exit(2);
  }
  // Read by ragsyncCommand (bench/worker.ts), which every scenario spawns ragsync with; Node
  // refuses --cpu-prof in NODE_OPTIONS.
  process.env.RAGSYNC_BENCH_CPU_PROF_DIR = resolve(cpuProfDir);
}
// The scenarios take no other options (the baseline scenario's --baseline-interval aside): an
// option meant for the standalone `pipeline` scenario (--env, --count, …) would be ignored here,
// and the figures would be of a setting that was never applied.
const leftover = argv.filter((arg, i) => arg.startsWith('--') && arg !== '--baseline-interval' && argv[i - 1] !== '--baseline-interval');
if (leftover.length > 0) {
  console.error(`unknown option${leftover.length === 1 ? '' : 's'} ${leftover.join(' ')}: the scenarios take --scenario, --quick, --cpu-prof and --baseline-interval; --env, --count, --alone and --worker-root belong to \`--scenario pipeline\` alone`);
  process.exit(2);
}
// `--scenario a,b` runs several, in the order of SCENARIOS.
const names = scenario.split(',').map((n) => n.trim());
const chosen = scenario === 'all' ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));
if (chosen.length === 0 || chosen.length !== names.length && scenario !== 'all') {
  console.error(`unknown scenario "${scenario}": expected all, ${[...SCENARIOS.map((s) => s.name), ...Object.keys(STANDALONE)].join(', ')}`);
  process.exit(2);
}

const started = performance.now();
const say = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
// Every ragsync process the scenarios start runs as the image runs it: the built package, with the
// image's MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ and NODE_OPTIONS (the main thread's young
// generation). From the sources through tsx, each thread would also hold the compiler and its
// output (about 110 MB more for run all), and every start would compile them first.
say('building the package (npm run build): ragsync runs from dist/, as the image does');
execFileSync('npm', ['run', '--silent', 'build'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
process.env.RAGSYNC_USE_DIST = '1';
process.env.MALLOC_ARENA_MAX ??= '2';
process.env.MALLOC_MMAP_THRESHOLD_ ??= '524288';
process.env.NODE_OPTIONS ??= '--max-semi-space-size=8';
const endpoint = await startEmbeddingServer();
const memo = new Map<string, Promise<unknown>>();
const context: BenchContext = {
  quick,
  args: argv,
  say,
  endpoint,
  raw: {},
  once<T>(key: string, measure: () => Promise<T>): Promise<T> {
    let value = memo.get(key) as Promise<T> | undefined;
    if (!value) {
      value = measure();
      memo.set(key, value);
    }
    return value;
  },
};
const results: BenchResults = {
  date: new Date().toISOString().slice(0, 10),
  scenario,
  quick,
  startedAt: new Date().toISOString(),
  machine: describeMachine(),
  configuration: { quick, args: argv, cpuProfiles: cpuProfDir === undefined ? undefined : resolve(cpuProfDir), endpoint: 'OpenAI-compatible /v1/embeddings in the bench process (hashing, minilm)', store: 'LanceDB', partitions: 6, ragsync: `built package (dist/, RAGSYNC_USE_DIST=1), MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX}, MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_}, NODE_OPTIONS=${process.env.NODE_OPTIONS}, as the Docker image runs it`, scenarios: chosen.map((s) => ({ name: s.name, about: s.about })) },
  figures: [],
  raw: context.raw,
};
say(`${chosen.length} scenario${chosen.length === 1 ? '' : 's'}${quick ? ' (quick)' : ''}; embedding endpoint at ${endpoint.url}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
let failures = 0;
try {
  for (const s of chosen) {
    say(`# ${s.name}: ${s.about}`);
    const t = performance.now();
    try {
      results.figures.push(...(await s.run(context)));
    } catch (error) {
      failures += 1;
      const message = (error as Error).message.split('\n')[0]!.slice(0, 300);
      say(`  ${s.name} failed: ${message}`);
      results.figures.push({ scenario: s.name, name: s.about, unit: '', status: `failed: ${message}` } satisfies Figure);
      context.raw[`${s.name}-error`] = (error as Error).stack ?? String(error);
    }
    say(`  ${s.name}: ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
} finally {
  await endpoint.close();
}
results.finishedAt = new Date().toISOString();
results.machine.loadAtEnd = loadavg();
const paths = writeResults(join(PROJECT_ROOT, 'bench', 'results'), results);
console.log(`\n${renderTable(results)}`);
console.log(`results: ${paths.json}, ${paths.markdown} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
// A scenario that failed fails the run (a missed target does not: it is reported in the table).
process.exit(failures > 0 ? 1 : 0);
