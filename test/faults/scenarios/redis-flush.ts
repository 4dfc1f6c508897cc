import { expect } from 'vitest';
import type { Config } from '../../../src/config/index.js';
import { HEADERS } from '../../../src/core/records.js';
import { withAdmin } from '../../../src/kafka/admin.js';
import { readGroupLag } from '../../../src/kafka/lag.js';
import { retryDueTopicName, retryTopicName } from '../../../src/kafka/topic-catalogue.js';
import { readAll, testKafka, type ReadRecord } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';
import { flakyHeadWrites } from '../support/flaky-head-writes.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, HeadsMonitor } from '../support/verify.js';
import { workload } from '../support/workload.js';
import { totalLag } from './pipeline-lag.js';
import { readQdrant } from './stalls.js';

export interface RedisFlushOptions {
  events: number;
  keys: number;
  partitions: number;
  /** Flushes the run must at least make; it makes one every `flushEveryMs` while records wait. */
  minFlushes: number;
  /** Share of record versions, in thousandths, whose store write fails once (see flaky-head-writes.ts). */
  failPerThousand: number;
}

/**
 * Short tiers, so that records come back within the run: each wait spans a few flushes. Records
 * only ever reach the first tier here (each version fails once), the others are there as in
 * production.
 */
const RETRY_DELAYS = '5s,10s,20s';
/** How often the Redis keys are deleted while records wait in the retry tiers. */
const FLUSH_EVERY_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The store's retry tiers and its due topic, with the pipeline's prefix. */
function retryTopics(config: Config): { tiers: string[]; due: string } {
  const prefix = config.topics.prefix;
  return { tiers: config.topics.retryDelaysMs.map((delay) => `${prefix}${retryTopicName('store', delay)}`), due: `${prefix}${retryDueTopicName('store')}` };
}

/**
 * Records waiting in the store's retry tiers: written there and not yet forwarded by the retry
 * consumer (group `<prefix>store.retry`), which commits a record only once it is due and forwarded.
 */
async function waitingInTiers(harness: PipelineHarness): Promise<number> {
  const { config } = harness;
  const group = `${config.runner.groupPrefix ?? config.topics.prefix}store.retry`;
  return withAdmin(harness.kafka, async (admin) => (await readGroupLag(admin, group, retryTopics(config).tiers)).lag);
}

/** One retry copy: where it was first read and the tier it went to, as its headers say. */
const retryId = (r: ReadRecord) => `${r.headers[HEADERS.origTopic]}:${r.headers[HEADERS.origPartition]}:${r.headers[HEADERS.origOffset]}@${r.headers[HEADERS.retryTier]}`;

/**
 * Scenario 14: Redis emptied, again and again, while records wait in the store's delayed retry
 * topics. Retry state must live in Kafka only (docs/design.md §4): what Redis holds (embedding
 * cache, circuit breaker, rate limits, activity) may vanish at any time without losing a retry or
 * letting an older version win.
 *
 * `ragsync run all` writes to the Qdrant test server through a relay that answers 503 to the head
 * write of a share of record versions, each at most once (flaky-head-writes.ts). The store fails
 * those slices with a retryable error, which sends their records to `store.retry.5s`; an embedder
 * failure would not do: the embed stage pauses and retries in place, it has no retry topics. While
 * the workload is published in parts and drained, every Redis key of the pipeline is deleted every
 * few seconds whenever records wait in a retry tier. Then, counted from Kafka by a client of the
 * test's own: records went through the retry tiers and every one of them came back through
 * `store.retry.due`; nothing is in a DLQ; the store holds exactly the newest version of every key
 * (nothing lost, nothing stale, no point twice) and no head version ever went backwards.
 */
export async function redisFlushDuringRetries(name: string, options: RedisFlushOptions, record: (row: FaultRow) => void): Promise<void> {
  const harness = await PipelineHarness.create('qdrant', { RAGSYNC_PARTITIONS: String(options.partitions), RAGSYNC_RETRY_DELAYS: RETRY_DELAYS });
  const qdrant = harness.qdrant!;
  const { collection } = harness.config.store;
  const relay = await flakyHeadWrites(qdrant.url, { perThousand: options.failPerThousand });
  const monitor = new HeadsMonitor(async () => (await readQdrant(qdrant, collection)).heads);
  // Small slices: many store writes, so failures hit a few records at a time, all along the run.
  // A circuit opened by a burst of failures of batches written together waits 3 s, not 5 minutes.
  const env = pipelineEnv(harness.config, { QDRANT_URL: relay.url, RAGSYNC_MAX_RECORDS_PER_CALL: '25', RAGSYNC_BREAKER_OPEN_MS: '3000', LOG_LEVEL: 'warn' });
  const kafka = testKafka();
  let worker: WorkerProcess | undefined;
  let flushing = true;
  let flusher: Promise<void> = Promise.resolve();
  const flushes: number[] = [];
  let lastFlushAt = Date.now();
  try {
    // Keys stop changing at points spread over the run: a retry dropped at any time leaves its key
    // short for good, instead of being hidden by a later version of the key.
    const { lines, expected } = workload({ tenant: 'faults', seed: 14, keys: options.keys, events: options.events, spreadLastVersions: true });
    const json = lines.map((l) => JSON.stringify(l));
    worker = WorkerProcess.start('worker', ['all'], env);
    monitor.start();

    // Every few seconds, while records wait in a retry tier, delete every Redis key of the
    // pipeline; each flush remembers how many records were waiting.
    flusher = (async () => {
      while (flushing) {
        await sleep(FLUSH_EVERY_MS);
        // The test server keeps every request for tests that inspect them; this one does not.
        qdrant.requests.splice(0);
        const waiting = await waitingInTiers(harness).catch(() => 0);
        if (waiting > 0 && flushing) {
          await harness.deleteRedisKeys();
          flushes.push(waiting);
          lastFlushAt = Date.now();
        }
      }
    })();
    // A failed flush fails the test when the flusher is awaited below, not as an unhandled rejection.
    flusher.catch(() => undefined);

    // Published in five parts a few seconds apart: failures, retries and flushes all along the run.
    const parts = 5;
    const size = Math.ceil(json.length / parts);
    for (let part = 0; part < parts; part += 1) {
      await harness.publishLines(json.slice(part * size, (part + 1) * size));
      if (part < parts - 1) await sleep(4_000);
    }

    // Drained: no group has lag, the store's retry consumer included (records waiting in a tier
    // are its lag), twice in a row. A lag that stops falling for 2 minutes fails at once.
    const started = Date.now();
    let quiet = 0;
    let lowest = Infinity;
    let lowestAt = started;
    let last = '';
    while (quiet < 2) {
      const [lag, waiting] = await Promise.all([totalLag(harness.kafka, harness.config), waitingInTiers(harness)]);
      last = `lag ${lag}, ${waiting} waiting in retry tiers`;
      quiet = lag + waiting === 0 ? quiet + 1 : 0;
      if (lag + waiting < lowest) {
        lowest = lag + waiting;
        lowestAt = Date.now();
      }
      if (Date.now() - lowestAt > 120_000 || Date.now() - started > 900_000) throw new Error(`the pipeline did not drain: ${last}; ${worker.tail()}`);
      await sleep(500);
    }
    const drainedAt = Date.now();
    flushing = false;
    await flusher;
    // From the last flush (flushes go on while the pipeline drains) to no lag anywhere.
    const recoverySeconds = Math.max(0, drainedAt - lastFlushAt) / 1000;
    await worker.stop(60_000);
    worker = undefined;
    await monitor.stop();

    const drift = compare(await readQdrant(qdrant, collection), expected);
    const { tiers, due } = retryTopics(harness.config);
    const retried = (await Promise.all(tiers.map((t) => readAll(kafka, t, 120_000)))).flat();
    const cameBack = new Set((await readAll(kafka, due, 120_000)).map(retryId));
    const neverBack = [...new Set(retried.map(retryId))].filter((id) => !cameBack.has(id));
    const dlq = await harness.dlqDepth();
    const waited = flushes.length > 0 ? `${Math.min(...flushes)}–${Math.max(...flushes)}` : '0';
    record({
      test: name,
      events: lines.length,
      faults: `Redis keys deleted ${flushes.length}× while ${waited} records waited in retry tiers; ${retried.length} records through retry tiers (${relay.stats.failed} store writes answered 503)`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expectNoDrift(drift, monitor);
    expect(dlq, 'records in a DLQ').toEqual({});
    expect(retried.length, 'records that went through the store retry tiers').toBeGreaterThan(0);
    expect(neverBack, 'records sent to a retry tier that never came back through store.retry.due').toEqual([]);
    expect(flushes.length, 'Redis flushes while records waited in a retry tier').toBeGreaterThanOrEqual(options.minFlushes);
    expect(qdrant.violations).toEqual([]);
  } finally {
    flushing = false;
    await flusher.catch(() => undefined);
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    await relay.close();
    await harness.close();
  }
}
