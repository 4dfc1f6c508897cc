/**
 * The seed design measured on the same data, embedder and store as ragsync: entities saved into
 * the queue table (the save observer), a cron processing batches of 50 one item at a time.
 *
 * - backlog: `count` entities queued at once, then processed; items/s from the first run to the
 *   last item stored;
 * - latency: saves at a fixed rate for a window, each item's time from its save to its upsert; items
 *   still queued at the end of the wait count with their time so far (the p99 is then a lower bound).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import type { ChangeMessage } from '../../src/core/changes.js';
import { OpenAiEmbedder } from '../../src/embedders/openai.js';
import { parsePublishLine } from '../../src/producers/publish/ndjson-line.js';
import { createVectorStore } from '../../src/stores/index.js';
import { generateEntities } from '../../test/support/generate-entities.js';
import { percentile } from '../report/results.js';
import { QueueProcessor } from './processor.js';
import { SyncQueue } from './queue.js';
import { parseKey } from '../../src/core/keys.js';

export interface BaselineFigures {
  intervalMs: number;
  batchSize: number;
  count: number;
  sent: number;
  seconds: number;
  itemsPerSecond: number;
  runs: number;
  enqueuePerSecond: number;
  latency?: { rate: number; windowSeconds: number; saved: number; sent: number; p50Ms: number; p99Ms: number; lowerBound: boolean };
}

/** Change messages of `count` generated entities, as `publish` builds them (the same values ragsync maps). */
export function changeMessages(count: number, seed = 7): ChangeMessage[] {
  const now = Date.now();
  return generateEntities(count, { tenant: 'bench', seed }).flatMap((line, i) => {
    const parsed = parsePublishLine(JSON.stringify(line), i + 1, { now, storesOf: () => [0] });
    if (!parsed.ok) throw new Error(`line ${i + 1}: ${JSON.stringify(parsed.issues)}`);
    return parsed.messages;
  });
}

async function save(queue: SyncQueue, message: ChangeMessage, at: number): Promise<void> {
  const key = parseKey(message.key);
  const value = JSON.parse(JSON.stringify({ ...message.value, __key: message.key }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>;
  await queue.save(key.entityType, key.entityId, key.storeId, value, message.sourceVersion, at);
}

export async function runBaseline(options: {
  embeddingUrl: string;
  model: string;
  count: number;
  intervalMs: number;
  latency?: { rate: number; windowSeconds: number; waitSeconds: number };
  timeoutMs: number;
  say: (line: string) => void;
}): Promise<BaselineFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-baseline-'));
  const config = loadConfig({ env: { LANCEDB_PATH: join(dir, 'lancedb'), RAGSYNC_COLLECTION: 'baseline', EMBEDDER: 'openai', EMBEDDING_URL: options.embeddingUrl, EMBEDDING_MODEL: options.model, QDRANT_URL: '' } });
  const embedder = new OpenAiEmbedder({ url: options.embeddingUrl, model: options.model });
  await embedder.connect();
  const store = createVectorStore(config.store);
  await store.connect();
  await store.ensureCollection({ dimension: embedder.dimension, distance: 'cosine', modelId: embedder.id });
  const queue = await SyncQueue.open();
  try {
    // Backlog.
    const messages = changeMessages(options.count);
    const enqueueStart = performance.now();
    for (const m of messages) await save(queue, m, Date.now());
    const enqueuePerSecond = messages.length / ((performance.now() - enqueueStart) / 1000);
    options.say(`  baseline: ${messages.length} entities queued (${Math.round(enqueuePerSecond)}/s through the save observer); cron every ${options.intervalMs / 1000} s, batches of 50`);
    let sent = 0;
    const processor = new QueueProcessor(queue, config, embedder, store, { intervalMs: options.intervalMs, onSent: () => (sent += 1) });
    const started = performance.now();
    let lastPrint = started;
    processor.start();
    while (sent < messages.length && performance.now() - started < options.timeoutMs) {
      await new Promise((r) => setTimeout(r, 200));
      if (performance.now() - lastPrint > 10_000) {
        lastPrint = performance.now();
        options.say(`  baseline: ${sent} of ${messages.length} stored after ${((lastPrint - started) / 1000).toFixed(0)} s`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await processor.stop();
    const figures: BaselineFigures = { intervalMs: options.intervalMs, batchSize: 50, count: messages.length, sent, seconds, itemsPerSecond: sent / seconds, runs: processor.stats.runs, enqueuePerSecond };
    options.say(`  baseline backlog: ${sent} of ${messages.length} stored in ${seconds.toFixed(1)} s = ${figures.itemsPerSecond.toFixed(1)} items/s (${processor.stats.runs} cron runs)`);

    if (options.latency) {
      const { rate, windowSeconds, waitSeconds } = options.latency;
      const fresh = changeMessages(Math.round(rate * windowSeconds), 13);
      const savedAt = new Map<number, number>();
      const latencies: number[] = [];
      const lat = new QueueProcessor(queue, config, embedder, store, { intervalMs: options.intervalMs, onSent: (_item, ms) => latencies.push(ms) });
      lat.start();
      const t0 = Date.now();
      for (let i = 0; i < fresh.length; i++) {
        const due = t0 + (i * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        savedAt.set(i, Date.now());
        await save(queue, fresh[i]!, Date.now());
      }
      const deadline = Date.now() + waitSeconds * 1000;
      while (latencies.length < fresh.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await lat.stop();
      const end = Date.now();
      // Items not stored by the end: their latency is at least the time they have waited.
      const waiting = [...savedAt.values()].sort((a, b) => a - b).slice(latencies.length).map((at) => end - at);
      const all = [...latencies, ...waiting];
      figures.latency = { rate, windowSeconds, saved: fresh.length, sent: latencies.length, p50Ms: percentile(all, 50) ?? 0, p99Ms: percentile(all, 99) ?? 0, lowerBound: waiting.length > 0 };
      options.say(`  baseline latency at ${rate}/s: p50 ${figures.latency.p50Ms} ms, p99 ${figures.latency.p99Ms} ms${waiting.length > 0 ? ` (at least: ${waiting.length} still queued)` : ''}`);
    }
    return figures;
  } finally {
    await queue.close();
    await store.close();
    await embedder.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
