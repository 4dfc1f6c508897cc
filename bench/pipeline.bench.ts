/**
 * The pipeline end to end on the local stack: N mixed entities published with `ragsync publish`'s
 * code, then map, chunk, embed and store run in this process (as `ragsync run all` does) with the
 * hashing embedder into LanceDB (or Qdrant when QDRANT_URL is set) until no group has lag. Prints
 * the publish rate, events/s per stage and end to end, the store alone (a fresh group and store
 * replaying `vectors` and the aspects), and the peak resident memory.
 *
 *   npx tsx bench/pipeline.bench.ts [--count 20000] [--keep]
 *
 * Not a test: it needs the local stack (`ragsync stack up`) and takes a while.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pipeline, STAGE_NAMES, type StageName } from '../src/cli/pipeline.js';
import { collectStatus } from '../src/cli/status.js';
import { loadConfig, type Config } from '../src/config/index.js';
import { withAdmin } from '../src/kafka/admin.js';
import { createKafka } from '../src/kafka/client.js';
import { KafkaChangeSink } from '../src/kafka/producer.js';
import { applyTopics } from '../src/kafka/topics.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics, type Metrics } from '../src/observability/metrics.js';
import { runPublish } from '../src/producers/publish/run-publish.js';
import { stackEnv, stackLayout } from '../src/stack/layout.js';
import { generateEntities } from '../test/support/generate-entities.js';

const { values: args } = parseArgs({ options: { count: { type: 'string', default: '20000' }, keep: { type: 'boolean', default: false }, partitions: { type: 'string', default: '6' } } });
const COUNT = Number(args.count);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
sampler.unref();

const say = (line: string) => console.log(line);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function configFor(prefix: string, dir: string): Config {
  const env = { ...stackEnv(stackLayout()), ...process.env };
  return loadConfig({
    env: {
      ...env,
      RAGSYNC_TOPIC_PREFIX: prefix,
      RAGSYNC_REDIS_PREFIX: prefix,
      RAGSYNC_PARTITIONS: args.partitions!,
      LANCEDB_PATH: join(dir, 'lancedb'),
      RAGSYNC_COLLECTION: prefix.replace(/[^a-z0-9]/gi, '_'),
      EMBEDDER: 'hashing',
      LOG_LEVEL: 'warn',
    },
  });
}

/** Records of a stage handled so far, from its counters. */
async function handled(metrics: Metrics): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const metric of (await metrics.registry.getMetricsAsJSON()).filter((m) => m.name === 'ragsync_records_total')) {
    for (const value of metric.values as Array<{ labels: Record<string, string>; value: number }>) {
      counts.set(value.labels.stage!, (counts.get(value.labels.stage!) ?? 0) + value.value);
    }
  }
  return counts;
}

async function runUntilSettled(config: Config, names: readonly StageName[], label: string): Promise<{ seconds: number; perStage: Map<string, number> }> {
  const metrics = createMetrics({ defaultMetrics: false });
  const pipeline = new Pipeline({ config, logger: createLogger({ level: 'warn' }), metrics });
  const kafka = createKafka(config);
  const started = performance.now();
  await pipeline.start(names);
  const stages = pipeline.runners.map((r) => r.stage);
  let quiet = 0;
  let lastPrint = 0;
  const firstDone = new Map<string, number>();
  for (;;) {
    const status = await collectStatus(kafka, config, stages);
    const elapsed = (performance.now() - started) / 1000;
    for (const s of status.stages) if (s.lag === 0 && !firstDone.has(s.stage)) firstDone.set(s.stage, elapsed);
    if (elapsed - lastPrint >= 5) {
      lastPrint = elapsed;
      say(`  ${label} ${elapsed.toFixed(0)} s: lag ${status.stages.map((s) => `${s.stage}=${s.lag}`).join(' ')}, rss ${mb(process.memoryUsage.rss())}`);
    }
    quiet = status.stages.every((s) => s.lag === 0) ? quiet + 1 : 0;
    if (quiet >= 2) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (performance.now() - started) / 1000;
  const counts = await handled(metrics);
  await pipeline.stop();
  const perStage = new Map<string, number>();
  for (const [stage, n] of counts) perStage.set(stage, n / (firstDone.get(stage) ?? seconds));
  return { seconds, perStage };
}

async function main(): Promise<void> {
  const prefix = `bench${Date.now().toString(36)}.`;
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-bench-'));
  const config = configFor(prefix, dir);
  const kafka = createKafka(config);
  await withAdmin(kafka, (admin) => applyTopics(admin, config));
  try {
    const lines = generateEntities(COUNT, { tenant: 'bench', seed: 7 }).map((l) => JSON.stringify(l));
    say(`publishing ${lines.length} entities to ${prefix}changes.* (${args.partitions} partitions)…`);
    const sink = new KafkaChangeSink(kafka, config);
    const publishStart = performance.now();
    async function* iterate() {
      yield* lines;
    }
    const summary = await runPublish(iterate(), { sink, now: Date.now(), storesOf: () => [0] });
    const publishSeconds = (performance.now() - publishStart) / 1000;
    await sink.close();
    say(`publish: ${summary.published} records in ${publishSeconds.toFixed(1)} s = ${(summary.published / publishSeconds).toFixed(0)} events/s`);

    const all = await runUntilSettled(config, STAGE_NAMES, 'run all');
    say(`run all: ${summary.published} events in ${all.seconds.toFixed(1)} s = ${(summary.published / all.seconds).toFixed(0)} events/s end to end`);
    for (const [stage, rate] of all.perStage) say(`  ${stage}: ${rate.toFixed(0)} records/s`);

    const storeOnly = { ...config, store: { ...config.store, lancedbPath: join(dir, 'lancedb-store-only'), collection: `${config.store.collection}_s` }, runner: { ...config.runner, groupPrefix: `${prefix}storeonly.` } };
    const store = await runUntilSettled(storeOnly, ['store'], 'store alone');
    const storeRecords = [...(store.perStage.values())][0] ?? 0;
    say(`store alone: ${storeRecords.toFixed(0)} records/s (${store.seconds.toFixed(1)} s)`);
    say(`peak rss: ${mb(peakRss)}`);
  } finally {
    if (!args.keep) {
      await withAdmin(kafka, async (admin) => {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
        if (topics.length > 0) await admin.deleteTopics({ topics });
      });
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

await main();
