import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStatus } from '../../../src/cli/status.js';
import { enabledStages } from '../../../src/core/stages.js';
import { generateEntities, toNdjson } from '../../support/generate-entities.js';
import { waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';

/**
 * A worker stopped while its stages are still starting (building, connecting, joining their
 * groups) stops at once and cleanly: the stages not started yet are never started, those joining
 * leave, and a worker started afterwards indexes everything.
 */
describe('run all stopped during its start', () => {
  let harness: PipelineHarness;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await harness?.close();
  });

  it('exits 0 within seconds of a SIGTERM, sent twice, while the stages join their groups; nothing is lost', { timeout: 240_000 }, async () => {
    const lines = toNdjson(generateEntities(40, { tenant: 'stop', seed: 5, storeId: 1 })).split('\n').filter((l) => l.length > 0);
    await harness.publishLines(lines);
    // Two threads, as `run all` has on a 2-core machine: map in one, the others in another.
    const env = pipelineEnv(harness.config, { LOG_LEVEL: 'info', RAGSYNC_STAGE_THREADS: '2' });

    const first = WorkerProcess.start('first worker', ['all'], env);
    workers.push(first);
    // Its HTTP server is up: the stages are being built and started now.
    await first.waitForLog('health and metrics', 'health and metrics');
    expect(first.logged('stage running'), 'no stage has joined its group yet').toEqual([]);
    const sent = Date.now();
    // Twice, as a supervisor that signals the whole process group and then the process does: the
    // second must not cut the stop short.
    first.signal('SIGTERM');
    await first.waitForLog('shutting down', 'shutting down');
    await first.stop(60_000);
    expect(first.logged('already shutting down'), first.tail()).toHaveLength(1);
    const seconds = (Date.now() - sent) / 1000;
    expect(first.logged('shutdown took longer than the session timeout'), first.tail()).toEqual([]);
    expect(first.tail(), 'exit code').toContain('exit 0');
    expect(seconds, first.tail()).toBeLessThan(8);

    // What the first one left is processed by the next.
    const second = WorkerProcess.start('second worker', ['all'], env);
    workers.push(second);
    const stages = enabledStages(harness.config.tenants).map((s) => ({ ...s, inputs: [...s.inputs] }));
    await waitUntil('every stage to have processed every record', async () => {
      const status = await collectStatus(harness.kafka, harness.config, stages);
      return status.stages.every((s) => s.lag === 0);
    }, 180_000);
    const store = await harness.openStore();
    expect((await store.listDocKeys()).length).toBeGreaterThan(30);
    await second.stop(60_000);
    expect(second.tail(), 'exit code').toContain('exit 0');
  });
});
