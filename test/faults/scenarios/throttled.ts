import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { ChangeMessage } from '../../../src/core/changes.js';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { productChangeSchema } from '../../../src/schemas/zod/product.js';
import type { PublishLine } from '../../support/generate-entities.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, readLanceDb, VersionMonitor } from '../support/verify.js';
import { productKey, workload } from '../support/workload.js';
import { drain, totalLag } from './pipeline-lag.js';

const DIMENSION = 64;

/**
 * An OpenAI-compatible `POST /v1/embeddings` on 127.0.0.1 that embeds at most `textsPerSecond`
 * texts a second: requests are served one after another, each taking its share of the rate, as a
 * provider's per-key throughput limit makes a client wait. Vectors from the hashing embedder.
 */
async function throttledEmbeddings(textsPerSecond: number) {
  const embedder = new HashingEmbedder({ dimension: DIMENSION });
  let busyUntil = 0;
  const stats = { calls: 0, texts: 0, first: 0, last: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string | string[] };
      const input = typeof body.input === 'string' ? [body.input] : body.input;
      const now = Date.now();
      busyUntil = Math.max(busyUntil, now) + (input.length * 1000) / textsPerSecond;
      setTimeout(() => {
        void embedder.embed(input).then((vectors) => {
          stats.calls += 1;
          stats.texts += input.length;
          stats.first ||= Date.now();
          stats.last = Date.now();
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ object: 'list', model: 'throttled', data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: Array.from(v) })), usage: { prompt_tokens: 0, total_tokens: 0 } }));
        });
      }, busyUntil - now);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A workload line as the change it publishes, validated ahead so publishing keeps its rate. */
function changeOf(line: PublishLine, at: number): ChangeMessage {
  const version = BigInt(line.source_version!);
  const key = productKey(line.tenant, line.id, line.store_id);
  if (line.action === 'delete') return { type: 'product', key, value: null, sourceVersion: version, occurredAt: at };
  const value = productChangeSchema.parse({ tenant: line.tenant, store_id: line.store_id, entity_id: line.id, source_version: version, occurred_at: at, ...line.data });
  return { type: 'product', key, value, sourceVersion: version, occurredAt: at };
}

/** Resident memory of a process in MB, from the kernel's own count. */
function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

export interface ThrottledOptions {
  events: number;
  keys: number;
  eventsPerSecond: number;
  textsPerSecond: number;
  rssLimitMb: number;
}

/**
 * Scenario 15: events published at `eventsPerSecond` into `ragsync run all` (a process of its own)
 * whose embedding endpoint takes only `textsPerSecond`, ten times less. The backlog must wait in
 * Kafka, not in the worker: its resident memory, sampled from /proc twice a second, stays under
 * `rssLimitMb`. No version may go backwards in the index (per-key order), the lag must drain once
 * publishing stops, and the index must end as the workload's last event per key.
 */
export async function throttledEmbedding(name: string, options: ThrottledOptions, record: (row: FaultRow) => void): Promise<void> {
  const endpoint = await throttledEmbeddings(options.textsPerSecond);
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '6' });
  const { lancedbPath, collection } = harness.config.store;
  const monitor = new VersionMonitor(lancedbPath, collection, 1000);
  // The worker as the image runs it: the built package (the suite's setup builds it from these
  // sources; run through tsx, every thread also holds the compiler and the transpiled sources,
  // about 110 MB more) with MALLOC_ARENA_MAX=2, a fixed 512 KiB mmap threshold and 8 MB
  // semi-spaces, as the Dockerfile sets them.
  // The memory bound is the deployed process's.
  const env = pipelineEnv(harness.config, { EMBEDDER: 'openai', EMBEDDING_URL: endpoint.url, EMBEDDING_MODEL: 'throttled', EMBEDDING_DIMENSIONS: String(DIMENSION), LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '524288', NODE_OPTIONS: '--max-semi-space-size=8', RAGSYNC_USE_DIST: '1', NODE_ENV: 'production' });
  let worker: WorkerProcess | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const rss: number[] = [];
  try {
    const { lines, expected } = workload({ tenant: 'faults', seed: 15, keys: options.keys, events: options.events });
    const now = Date.now();
    const changes = lines.map((l) => changeOf(l, now));
    worker = WorkerProcess.start('worker', ['all'], env);
    const pid = worker.pid!;
    sampler = setInterval(() => {
      try {
        rss.push(rssMb(pid));
      } catch {
        // the process has exited; its exit shows in the checks below
      }
    }, 500);
    monitor.start();

    // Publish in tenths of a second, each at its planned time, without waiting for the last
    // tick's acknowledgement (up to 8 ticks on their way): one producer keeps them in order.
    const perTick = Math.max(1, Math.round(options.eventsPerSecond / 10));
    const started = Date.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0, tick = 0; i < changes.length; i += perTick, tick += 1) {
      const wait = started + tick * 100 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(harness.publish(changes.slice(i, i + perTick)));
      while (inFlight.length > 8) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const publishSeconds = (Date.now() - started) / 1000;
    const lagAtEnd = await totalLag(harness.kafka, harness.config);
    const w = worker;
    const drainSeconds = await drain(harness.kafka, harness.config, 1_200_000, () => w.tail());
    const peak = Math.max(0, ...rss);
    await worker.stop(60_000);
    worker = undefined;
    clearInterval(sampler);
    await monitor.stop();

    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const { stats } = endpoint;
    const embedRate = stats.texts / Math.max(0.001, (stats.last - stats.first) / 1000);
    const publishRate = lines.length / publishSeconds;
    record({
      test: name,
      events: lines.length,
      faults: `published at ${Math.round(publishRate)}/s, embedded at ${Math.round(embedRate)} texts/s; lag ${lagAtEnd} when publishing ended; RSS peak ${Math.round(peak)} MB`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds: drainSeconds,
    });
    expect(publishRate, 'events published per second').toBeGreaterThan(options.eventsPerSecond * 0.8);
    expect(embedRate, 'texts embedded per second').toBeLessThan(options.textsPerSecond * 1.1);
    expect(lagAtEnd, 'records behind when publishing ended (the throttle held the pipeline back)').toBeGreaterThan(0);
    expect(rss.length, 'RSS samples').toBeGreaterThan(4);
    expect(peak, `peak RSS of the worker in MB (samples every 0.5 s)`).toBeLessThan(options.rssLimitMb);
    expectNoDrift(drift, monitor);
  } finally {
    clearInterval(sampler);
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    await harness.close();
    await endpoint.close();
  }
}
