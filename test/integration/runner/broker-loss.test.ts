import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { HEADERS } from '../../../src/core/records.js';
import type { StageDefinition } from '../../../src/core/stage.js';
import type { RecordCodec } from '../../../src/kafka/codec.js';
import { StageRunner } from '../../../src/kafka/stage-runner.js';
import { createWorkerHttp } from '../../../src/observability/http.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { OwnBroker } from '../../faults/support/own-broker.js';
import { generateEntities, toNdjson } from '../../support/generate-entities.js';
import { createTestTopics, readAll, waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';

/**
 * A stage whose broker goes away: kafkajs crashes the consumer after its retries and restarts it,
 * again and again until the broker is back. Meanwhile the worker must say it is not ready (an
 * orchestrator sends it no work, an alert can fire) without saying it is dead (which would
 * restart a process that only has to wait), and be ready again by itself once the broker returns.
 * On a broker of its own, never the shared one.
 */
const codec: RecordCodec = {
  async decode(_topic, bytes) {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  },
  async encode(_topic, value) {
    return Buffer.from(JSON.stringify(value));
  },
};

const idle: StageDefinition = { name: 'idle', group: 'idle', inputs: ['in'], output: 'out', process: async (records) => records.map(() => ({ ok: true, outputs: [] })) };

describe('a stage whose broker goes away', () => {
  let broker: OwnBroker;

  beforeAll(async () => {
    broker = await OwnBroker.start({ label: 'runner' });
  }, 180_000);

  afterAll(async () => {
    await broker?.close();
  });

  it('is reconnecting (not ready, not crashed) while the broker is down, and running again once it is back', async () => {
    const kafka = new Kafka({ clientId: 'broker-loss', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { initialRetryTime: 200, retries: 3, maxRetryTime: 1_000 } });
    const admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, ['loss.in', 'loss.out', 'loss.idle.dlq']);
    await admin.disconnect();
    const metrics = createMetrics({ defaultMetrics: false });
    const runner = new StageRunner(idle, { kafka, codec, logger: createLogger({ level: 'silent' }), metrics, topicPrefix: 'loss.', sessionTimeoutMs: 10_000 });
    const http = createWorkerHttp({ metrics, sources: () => [runner] });
    const status = async (url: string) => (await http.inject({ url })).statusCode;
    try {
      await runner.start();
      await waitUntil('the stage to join its group', async () => runner.health().state === 'running' && (await status('/readyz')) === 200, 60_000);

      await broker.kill();
      await waitUntil('the stage to notice the broker is gone', () => runner.health().state === 'reconnecting', 90_000);
      expect(await status('/readyz')).toBe(503);
      expect(await status('/healthz')).toBe(200);

      await broker.restart();
      await waitUntil('the stage to be ready again', async () => runner.health().state === 'running' && (await status('/readyz')) === 200, 120_000);
      expect(await status('/healthz')).toBe(200);
    } finally {
      await runner.stop().catch(() => undefined);
      await http.close();
    }
  }, 300_000);

  it('waits, not ready, for a broker that is away while it starts, and processes its input once the broker is back', async () => {
    const kafka = new Kafka({ clientId: 'broker-loss-start', brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { initialRetryTime: 200, retries: 2, maxRetryTime: 1_000 } });
    const admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, ['late.in', 'late.out', 'late.copy.dlq']);
    await admin.disconnect();
    const metrics = createMetrics({ defaultMetrics: false });
    const lines: Array<{ msg: string }> = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) } });
    const copy: StageDefinition = { name: 'copy', group: 'copy', inputs: ['in'], output: 'out', process: async (records) => records.map((r) => ({ ok: true, outputs: [{ topic: 'out', key: r.key, value: r.value, sourceVersion: 1n, occurredAt: Date.now() }] })) };
    const runner = new StageRunner(copy, { kafka, codec, logger, metrics, topicPrefix: 'late.', sessionTimeoutMs: 10_000 });
    const http = createWorkerHttp({ metrics, sources: () => [runner] });
    const status = async (url: string) => (await http.inject({ url })).statusCode;
    await broker.kill();
    const started = runner.start();
    try {
      // Away for longer than kafkajs' own retries last: the stage keeps waiting, alive and not ready.
      await waitUntil('the stage to try and wait again', () => lines.filter((l) => l.msg.startsWith('Kafka cannot be reached yet while starting the copy stage')).length >= 3, 60_000);
      expect(runner.health().state).toBe('created');
      expect(await status('/readyz')).toBe(503);
      expect(await status('/healthz')).toBe(200);

      await broker.restart();
      await started;
      await waitUntil('the stage to be ready', async () => runner.health().state === 'running' && (await status('/readyz')) === 200, 120_000);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'late.in', messages: [{ key: 'k1', value: JSON.stringify({ n: 1 }), headers: { [HEADERS.sourceVersion]: '1' } }] });
      await producer.disconnect();
      let out: Awaited<ReturnType<typeof readAll>> = [];
      await waitUntil('the record to be copied', async () => (out = await readAll(kafka, 'late.out')).length > 0, 60_000).catch((error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(runner.health())} ${lines.slice(-12).map((l) => JSON.stringify(l)).join('\n')}`);
      });
      expect(out.map((r) => r.key)).toEqual(['k1']);
    } finally {
      await broker.restart().catch(() => undefined);
      await started.catch(() => undefined);
      await runner.stop().catch(() => undefined);
      await http.close();
    }
  }, 300_000);

  it('keeps a run all worker started while the broker is away alive and waiting, and it indexes once the broker is back', async () => {
    const harness = await PipelineHarness.create('lancedb', { KAFKA_BROKERS: broker.brokers, RAGSYNC_PARTITIONS: '2' });
    let worker: WorkerProcess | undefined;
    try {
      await broker.kill();
      worker = WorkerProcess.start('worker', ['all'], pipelineEnv(harness.config, { LOG_LEVEL: 'info' }));
      // Every stage group waits at its first step that needs Kafka: the map stage's own topic check too.
      // A first try ends when kafkajs' own retries give up (about 40 s), where the worker used to
      // exit: now it says it waits, and stays.
      await worker.waitForLog('the map stage to wait for Kafka', 'Kafka cannot be reached yet while checking the topics of the map stage', {}, 120_000);
      await worker.waitForLog('the chunk stage to wait for Kafka', 'Kafka cannot be reached yet while checking the topics of the chunk stage', {}, 60_000);
      expect(worker.running, worker.tail()).toBe(true);
      const url = worker.logged('health and metrics')[0]!.url as string;
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);

      await broker.restart();
      const lines = toNdjson(generateEntities(20, { tenant: 'late', seed: 3, storeId: 1 })).split('\n').filter((l) => l.length > 0);
      await harness.publishLines(lines);
      // The worker creates the store's tables once its stages start: until then there is nothing to read.
      await waitUntil('every entity to be indexed', async () => (await harness.openStore().then((store) => store.listDocKeys()).catch(() => [])).length >= 20, 180_000).catch((error: Error) => {
        throw new Error(`${error.message}; ${worker!.tail()}`);
      });
      expect(await (await harness.openStore()).listDocKeys()).toHaveLength(20);
      await waitUntil('/readyz to say ready', async () => (await fetch(`${url}/readyz`)).status === 200, 60_000);
      expect(worker.running).toBe(true);
    } finally {
      if (!broker.running) await broker.restart().catch(() => undefined);
      await worker?.stop(30_000).catch(() => undefined);
      await harness.close();
    }
  }, 400_000);
});
