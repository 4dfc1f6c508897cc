import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/stack/layout.js';
import { generateEntities, toNdjson } from '../../support/generate-entities.js';
import { waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';

/**
 * `run all` spreads its stages over worker threads: the stages must do the same work as on one
 * thread, /metrics and /healthz must cover every thread (and count process figures once), and
 * SIGTERM must stop every thread gracefully.
 */
describe('run all with a thread per stage', () => {
  let harness: PipelineHarness;
  let worker: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
  });

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await harness?.close();
  });

  function sample(text: string, name: string, labels: Record<string, string>): number {
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (wanted.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  it('indexes everything, reports every stage on /metrics and /readyz, and stops on SIGTERM', { timeout: 240_000 }, async () => {
    const lines = toNdjson(generateEntities(200, { tenant: 'threads', seed: 11, storeId: 1 })).split('\n').filter((l) => l.length > 0);
    await harness.publishLines(lines);
    const c = harness.config;
    worker = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'ragsync.js'), 'run', 'all', '--port', '0'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: c.kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: c.registry.url,
        REDIS_URL: c.redis.url,
        RAGSYNC_TOPIC_PREFIX: c.topics.prefix,
        RAGSYNC_REDIS_PREFIX: c.redis.keyPrefix,
        LANCEDB_PATH: c.store.lancedbPath,
        RAGSYNC_COLLECTION: c.store.collection,
        EMBEDDER: 'hashing',
        RAGSYNC_STAGE_THREADS: '4',
        LOG_LEVEL: 'info',
        QDRANT_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    worker.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
    const exited = new Promise<number | null>((resolve) => worker!.once('exit', (code) => resolve(code)));

    let url = '';
    await waitUntil('the worker to serve /metrics', async () => {
      const match = /"url":"(http:[^"]+)"/.exec(output);
      if (match) url = match[1]!;
      return url !== '';
    }, 60_000);
    expect(output).toContain('"threads":["map","chunk","embed","store"]');

    // Every entity reaches the store: at least one record per published line passed all four stages.
    let metrics = '';
    await waitUntil('every stage to have handled its records', async () => {
      metrics = await (await fetch(`${url}/metrics`)).text();
      return ['map', 'chunk', 'embed', 'store'].every((stage) => sample(metrics, 'ragsync_records_total', { stage }) >= (stage === 'map' ? lines.length : 1)) &&
        (await harness.openStore()).listDocKeys().then((keys) => keys.length > 150);
    }, 180_000).catch((error: Error) => {
      throw new Error(`${error.message}; metrics: ${metrics.split('\n').filter((l) => l.startsWith('ragsync_records_total')).join(' | ')}; output: ${output.slice(-2000)}`);
    });
    // Process figures once, not once per thread; stage figures from every thread.
    expect(metrics.split('\n').filter((l) => l.startsWith('ragsync_process_resident_memory_bytes ')).length).toBe(1);
    // The process' RSS as the kernel sees it, not the sum over threads (which would be about 4×).
    const rss = sample(await (await fetch(`${url}/metrics`)).text(), 'ragsync_process_resident_memory_bytes', {});
    const kernelRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))![1]) * 1024;
    expect(rss / kernelRss).toBeGreaterThan(0.7);
    expect(rss / kernelRss).toBeLessThan(1.3);
    // The heap of every thread, each under its own label, none of them above its cap.
    for (const thread of ['main', 'map', 'chunk', 'embed', 'store']) {
      const used = sample(metrics, 'ragsync_thread_heap_bytes', { thread, kind: 'used' });
      expect(used, `heap of thread ${thread}`).toBeGreaterThan(1024 * 1024);
      expect(used).toBeLessThan(rss);
    }
    expect(sample(metrics, 'ragsync_records_total', { stage: 'map', outcome: 'ok' })).toBe(lines.length);
    expect(sample(metrics, 'ragsync_batch_seconds_count', { stage: 'store' })).toBeGreaterThan(0);

    await waitUntil('/readyz to list every stage and the store\'s retry consumer running', async () => {
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { status: string; stages: Array<{ stage: string; state: string }> };
      return ready.status === 'ready' && ready.stages.map((s) => s.stage).sort().join() === 'chunk,embed,map,store,store.retry' && ready.stages.every((s) => s.state === 'running');
    }, 30_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    worker = undefined;
    expect(output).not.toMatch(/"level":(50|60)/);
  });
});
