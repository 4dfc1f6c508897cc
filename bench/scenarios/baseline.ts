import { runBaseline, type BaselineFigures } from '../baseline/baseline.bench.js';
import { SEED_DEFAULTS } from '../baseline/processor.js';
import type { Figure } from '../report/results.js';
import type { BenchContext, Scenario } from './context.js';
import { latencyRun } from './latency.js';
import { hashingRun } from './pipeline.js';

/** `--baseline-interval <ms>`: the cron interval of the seed baseline (default: the seed's minute; quick: 1 s). */
function intervalOf(context: BenchContext): number {
  const at = context.args.indexOf('--baseline-interval');
  if (at >= 0) return Number(context.args[at + 1]);
  return context.quick ? 1000 : SEED_DEFAULTS.intervalMs;
}

export const baselineScenario: Scenario = {
  name: 'baseline',
  about: 'the seed design (SQL queue table, cron, batches of 50, one item at a time) on the same data, endpoint and store',
  async run(context) {
    const intervalMs = intervalOf(context);
    // With the seed's minute the cron takes 50 items a minute whatever the machine does: a few
    // runs say its rate. At a short interval the processing itself is the limit.
    const count = context.quick ? 60 : intervalMs >= 60_000 ? 150 : 1_000;
    const rate = 100;
    context.say(`baseline: ${count} entities queued, cron every ${intervalMs / 1000} s, then saves at ${rate}/s…`);
    context.endpoint.reset();
    const figures: BaselineFigures = await runBaseline({
      embeddingUrl: context.endpoint.url,
      model: 'hashing',
      count,
      intervalMs,
      latency: { rate, windowSeconds: context.quick ? 2 : 30, waitSeconds: context.quick ? 5 : 120 },
      timeoutMs: Math.max(count * 1000, 4 * intervalMs),
      say: context.say,
    });
    const counts = context.endpoint.reset().hashing;
    context.raw.baseline = { ...figures, endpoint: counts };
    const ragsync = await hashingRun(context);
    const latency = await latencyRun(context);
    const p99 = figures.latency!.p99Ms / 1000;
    const ragsyncRate = ragsync.runAll?.steadyPerSecond ?? ragsync.runAll?.endToEndPerSecond ?? 0;
    const ragsyncP99 = latency.find((l) => l.rate === rate)?.p99Seconds;
    const out: Figure[] = [
      { scenario: 'vs seed baseline', name: `seed baseline throughput (cron every ${intervalMs / 1000} s, batches of 50)`, value: figures.itemsPerSecond, unit: 'items/s', status: 'ok', note: `${figures.sent} of ${figures.count} stored in ${figures.seconds.toFixed(0)} s; ${counts.calls} endpoint calls` },
      { scenario: 'vs seed baseline', name: 'ragsync events/s against the seed baseline', value: ragsyncRate, unit: '/s', target: { op: '>=', value: 10, ratio: true }, comparison: { name: 'seed baseline', value: figures.itemsPerSecond }, status: 'ok', note: ragsync.runAll?.steadyPerSecond !== undefined ? 'ragsync: pipeline-hashing in steady state' : 'ragsync: pipeline-hashing, first mapped to last stored (no steady state at this size)' },
      { scenario: 'vs seed baseline', name: `seed baseline p99 save-to-searchable at ${rate}/s`, value: p99, unit: 's', status: 'ok', ...(figures.latency!.lowerBound ? { note: `a lower bound: ${figures.latency!.saved - figures.latency!.sent} of ${figures.latency!.saved} items were still queued when the wait ended` } : {}) },
    ];
    if (ragsyncP99 !== undefined && Number.isFinite(ragsyncP99)) {
      // Lower is better: the seed's p99 must be at least 50 times ragsync's.
      out.push({ scenario: 'vs seed baseline', name: `ragsync p99 source-to-searchable at ${rate}/s against the seed baseline`, value: ragsyncP99, unit: 's', target: { op: '<=', value: 1 / 50, ratio: true }, comparison: { name: 'seed baseline', value: p99 }, status: 'ok', note: 'target: 50 times lower' });
    }
    return out;
  },
};
