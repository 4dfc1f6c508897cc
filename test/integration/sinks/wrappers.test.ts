import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStoreSink, storeTarget } from '../../../src/consumers/store/store-sink.js';
import { createStoreStage } from '../../../src/consumers/store/store-stage.js';
import { RedisCircuitBreaker, type CircuitBreakerOptions } from '../../../src/coordination/circuit-breaker.js';
import { RedisRateLimiter } from '../../../src/coordination/rate-limiter.js';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { decideFailure, DEFAULT_FAILURE_POLICY } from '../../../src/core/failure-policy.js';
import { CircuitOpenError, RateLimitedError } from '../../../src/core/signals.js';
import type { Sink, SinkRecord } from '../../../src/core/sink.js';
import type { InputRecord } from '../../../src/core/stage.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { composeSink } from '../../../src/sinks/compose.js';
import { createQdrantStore } from '../../../src/stores/qdrant/index.js';
import type { VectorStore } from '../../../src/stores/vector-store.js';
import { startQdrantServer, type QdrantTestServer } from '../../support/qdrant-server/server.js';
import { uniqueName } from '../../support/unique.js';
import { SPEC } from '../stores/conformance.js';
import { deliver } from './deliver.js';
import { readDocument, removeRecord, saveRecord } from './store-records.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';
let server: QdrantTestServer;
const admin = new Redis(redisUrl);
const clients: Redis[] = [admin];
const closing: Array<() => Promise<void>> = [];
let collection: string;
let keyPrefix: string;
let target: string;

beforeAll(async () => {
  server = await startQdrantServer();
});

afterAll(async () => {
  await server.close();
  for (const client of clients) client.disconnect();
});

beforeEach(() => {
  collection = `t_${randomBytes(5).toString('hex')}`;
  keyPrefix = `${uniqueName('sinks')}:`;
  target = storeTarget({ qdrantUrl: server.url, collection });
});

afterEach(async () => {
  server.setFault(undefined);
  for (const close of closing.splice(0)) await close();
  await server.engine.drop(collection);
  await server.engine.drop(`${collection}_heads`);
  const keys = await admin.keys(`${keyPrefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  // Faulty or not, every request a sink sent must be one real Qdrant accepts.
  expect(server.violations.splice(0)).toEqual([]);
  server.requests.splice(0);
});

/** Log lines by level, as pino would receive them. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; at: number }> = [];
  const at = (level: string) => (_details: object, message: string) => void lines.push({ level, message, at: Date.now() });
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info') } };
}

interface ReplicaOptions {
  breaker?: Partial<CircuitBreakerOptions>;
  metrics?: Metrics;
  logger?: ReturnType<typeof recordingLogger>['logger'];
}

/** One worker process: its own Redis connection, breaker, limiter and Qdrant client, the wrapped store sink. */
async function replica(options: ReplicaOptions = {}): Promise<Sink<unknown>> {
  const redis = new Redis(redisUrl);
  clients.push(redis);
  const breaker = new RedisCircuitBreaker(redis, { keyPrefix, ...options.breaker, ...(options.logger ? { logger: options.logger } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) });
  const limiter = new RedisRateLimiter(redis, { keyPrefix, limits: { [target]: { ratePerSecond: 200, burst: 50 } } });
  const sink = composeSink(createStoreSink(createQdrantStore({ url: server.url, collection }), { target, collection: SPEC }), { breaker, limiter });
  await sink.connect();
  closing.push(() => sink.close());
  return sink;
}

/** A store of its own for reading what landed, beside the code under test. */
async function reader(): Promise<VectorStore> {
  const store = createQdrantStore({ url: server.url, collection });
  await store.connect();
  closing.push(() => store.close());
  return store;
}

async function countPoints(name: string): Promise<number> {
  return ((await server.engine.run('count_points', name, { exact: true })) as { count: number }).count;
}

const batchOf = (label: string, n: number, version = 1n): SinkRecord<unknown>[] => Array.from({ length: n }, (_, i) => saveRecord(`${label}-${i}`, version));

describe('when the target answers 503', () => {
  it('opens the circuit after 5 failed writes across two replicas, makes no call while open but the probes, and applies everything after recovery', async () => {
    const { lines, logger } = recordingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const breaker = { failureThreshold: 5, openMs: 1_500, halfOpenProbes: 1 };
    const replicas = [await replica({ breaker, logger, metrics }), await replica({ breaker, logger })];
    const pending = [batchOf('a', 20), batchOf('b', 20)];
    server.setFault({ answer: { status: 503 } });

    const outcomes: string[] = [];
    let healedAt: number | undefined;
    for (let step = 0; pending.some((batch) => batch.length > 0); step++) {
      expect(step).toBeLessThan(400);
      const i = step % 2;
      if (pending[i]!.length === 0) continue;
      try {
        const results = await replicas[i]!.write(pending[i]!);
        expect(results.every((r) => r.status === 'applied')).toBe(true);
        pending[i] = [];
        outcomes.push('applied');
      } catch (error) {
        // The runner's policy: the breaker's refusal pauses the stage; a 503 pauses the partition.
        if (error instanceof CircuitOpenError) {
          expect(decideFailure(error, 1, DEFAULT_FAILURE_POLICY)).toMatchObject({ action: 'pause-stage', reason: 'target-down' });
          // A 503 that left the circuit open (the fifth, a failed probe) comes back as the signal.
          outcomes.push(error.cause === undefined ? 'refused' : 'open-after-503');
        } else {
          expect(error).toBeInstanceOf(RetryableError);
          expect(decideFailure(error, 1, DEFAULT_FAILURE_POLICY).action).toBe('pause-partition');
          outcomes.push('503');
        }
      }
      // The target recovers once a probe has failed: the circuit is open a second time.
      if (healedAt === undefined && lines.some((l) => l.message.startsWith('circuit opened again'))) {
        expect(await metrics.registry.metrics()).toContain(`ragsync_circuit_state{target="${target}"} 2`);
        server.setFault(undefined);
        healedAt = Date.now();
      }
      await sleep(50);
    }

    // 5 failures open it; while open nothing is called; the probe after 1.5 s fails, the next succeeds.
    // The failure that opened it and the failed probe cost their records no attempt: the signal.
    expect(outcomes.slice(0, 5)).toEqual(['503', '503', '503', '503', 'open-after-503']);
    expect(outcomes.filter((o) => o === '503')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'open-after-503')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(20);
    expect(server.faultyCalls).toBe(6);
    expect(server.requests.filter((r) => r.fault === '503')).toHaveLength(6);
    const errors = lines.filter((l) => l.level === 'error').map((l) => l.message);
    expect(errors).toEqual([
      expect.stringContaining('circuit opened: 5 consecutive failures'),
      expect.stringContaining('circuit opened again: the probe failed'),
      expect.stringContaining('circuit closed'),
    ]);
    // Nothing lost: every record of both replicas is there, none was refused.
    expect(await countPoints(`${collection}_heads`)).toBe(40);
    expect(await countPoints(collection)).toBe(80);
    expect(await metrics.registry.metrics()).toContain(`ragsync_circuit_state{target="${target}"} 0`);
  });
});

describe('when the target answers 429 with Retry-After', () => {
  it('makes no call from either replica before the deadline, then applies everything', async () => {
    const [a, b] = [await replica(), await replica()];
    server.setFault({ answer: { status: 429, retryAfterSeconds: 2 }, operations: ['batch_update'], times: 1 });

    const first = await a!.write(batchOf('a', 10)).then(() => undefined, (error: unknown) => error);
    expect(first).toBeInstanceOf(RateLimitedError);
    expect(decideFailure(first, 1, DEFAULT_FAILURE_POLICY)).toMatchObject({ action: 'pause-stage', reason: 'rate-limited' });
    const limited = server.requests.find((r) => r.fault === '429')!;
    expect(limited).toBeDefined();
    const callsAfter429 = () => server.requests.filter((r) => r.at > limited.at);
    expect(callsAfter429()).toEqual([]);

    // Both replicas try at once, before the deadline: refused without a call.
    for (const sink of [a!, b!]) await expect(sink.write(batchOf('early', 3))).rejects.toBeInstanceOf(RateLimitedError);
    expect(callsAfter429()).toEqual([]);

    const deliveries = await Promise.all([deliver(a!, batchOf('a', 10)), deliver(b!, batchOf('b', 10))]);
    for (const delivery of deliveries) {
      expect(delivery.deadLettered).toEqual([]);
      expect(delivery.applied).toBe(10);
    }
    const later = callsAfter429();
    expect(later.length).toBeGreaterThan(0);
    expect(Math.min(...later.map((r) => r.at)) - limited.at).toBeGreaterThanOrEqual(2_000);
    expect(await countPoints(`${collection}_heads`)).toBe(20);
  });
});

describe('when the target refuses a batch with a 400 about one record', () => {
  it('fails that record alone with the target reason, after 0 retries, and applies the other 49', async () => {
    const sink = await replica();
    const reason = 'Wrong input: Payload of point 3f1c is invalid: sku "poison-17" is not allowed';
    server.setFault({ answer: { status: 400, reason }, operations: ['batch_update'], containing: 'poison-17' });
    const batch = Array.from({ length: 50 }, (_, i) => saveRecord(`item-${i}`, 1n, { payload: { sku: i === 17 ? 'poison-17' : `sku-${i}`, price: i } }));

    const delivery = await deliver(sink, batch);

    expect(delivery.applied).toBe(49);
    expect(delivery.deadLettered).toHaveLength(1);
    const [dead] = delivery.deadLettered;
    expect(dead!.record.key).toBe(batch[17]!.key);
    expect(dead!.attempt).toBe(1);
    expect(dead!.error).toBeInstanceOf(PermanentError);
    expect((dead!.error as PermanentError).message).toContain(reason);
    // Counted behind the API: 49 heads and their points landed, the refused one did not.
    expect(await countPoints(`${collection}_heads`)).toBe(49);
    expect(await countPoints(collection)).toBe(98);
    expect((await (await reader()).getDocument(batch[17]!.key)).head).toBeUndefined();
    // One bad record among 50: 1 + 2·⌈log2 50⌉ batch updates at most.
    expect(server.requests.filter((r) => r.operationId === 'batch_update').length).toBeLessThanOrEqual(13);
    expect(server.requests.filter((r) => r.fault === '400')).toHaveLength(Math.ceil(Math.log2(50)) + 1);
  });
});

describe('when the target fails 30% of calls at random', () => {
  it('ends in the expected state after 3,000 records written until applied', async () => {
    const sink = await replica({ breaker: { failureThreshold: 5, openMs: 200 } });
    const entities = 150;
    const records: SinkRecord<unknown>[] = [];
    const expected = new Map<string, { version: bigint; deleted: boolean }>();
    for (let i = 0; i < 3_000; i++) {
      const entity = `doc-${Math.floor(Math.random() * entities)}`;
      // Mostly newer versions, some late arrivals of older ones, some deletes.
      // Versions are unique: a late one ends in 5, an in-order one in 0.
      const version = BigInt(Math.random() < 0.15 && i > 200 ? 10 * (i - 200) + 5 : 10 * (i + 1));
      const deleted = Math.random() < 0.1;
      const record = deleted ? removeRecord(entity, version) : saveRecord(entity, version, { chunks: 1 + (i % 3) });
      records.push(record);
      const current = expected.get(record.key);
      if (current === undefined || version > current.version) expected.set(record.key, { version, deleted });
    }
    server.setFault({ answer: { status: 503 }, probability: 0.3 });

    const delivery = { deadLettered: [], applied: 0, stale: 0, stagePauses: {} } as Awaited<ReturnType<typeof deliver>>;
    for (let start = 0; start < records.length; start += 100) {
      await deliver(sink, records.slice(start, start + 100), { maxAttempts: Number.POSITIVE_INFINITY }, delivery);
    }
    server.setFault(undefined);

    expect(delivery.deadLettered).toEqual([]);
    expect(delivery.applied + delivery.stale).toBe(3_000);
    expect(server.requests.filter((r) => r.fault === '503').length).toBeGreaterThan(20);
    const store = await reader();
    for (const [docKey, state] of expected) expect(await readDocument(store, docKey), docKey).toEqual(state);
    expect(await store.listDocKeys()).toEqual([...expected].filter(([, s]) => !s.deleted).map(([k]) => k).sort());
  });
});

describe('the store stage with the wrappers the pipeline passes', () => {
  it('pauses the stage (CircuitOpenError for the whole slice) while the store is down, and indexes everything after', async () => {
    const redis = new Redis(redisUrl);
    clients.push(redis);
    const breaker = new RedisCircuitBreaker(redis, { keyPrefix, failureThreshold: 2, openMs: 500 });
    const limiter = new RedisRateLimiter(redis, { keyPrefix });
    const store = await reader();
    await store.ensureCollection(SPEC);
    const indexed: number[] = [];
    const stage = createStoreStage(store, { target, wrappers: { breaker, limiter }, onIndexed: (at) => indexed.push(at) });
    const context = { heartbeat: async () => undefined, isStale: () => false };
    const slice: InputRecord[] = batchOf('s', 5).map((r, i) => ({ ...r, partition: 0, offset: String(i), headers: {} }));

    server.setFault({ answer: { status: 503 } });
    await expect(stage.process(slice, context)).rejects.toMatchObject({ code: 'qdrant_server_error' });
    // The second 503 opens the circuit: the slice waits with the stage, its records charged no attempt.
    const opening = await stage.process(slice, context).then(() => undefined, (error: unknown) => error);
    expect(opening).toBeInstanceOf(CircuitOpenError);
    expect((opening as CircuitOpenError).cause).toMatchObject({ code: 'qdrant_server_error' });
    expect((opening as CircuitOpenError).retryAfterMs).toBeGreaterThan(300);
    expect(decideFailure(opening, 1, { ...DEFAULT_FAILURE_POLICY, retryTopics: true })).toMatchObject({ action: 'pause-stage', reason: 'target-down' });
    await expect(stage.process(slice, context)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(server.faultyCalls).toBe(2);
    server.setFault(undefined);
    await sleep(600);
    expect(await stage.process(slice, context)).toEqual(slice.map(() => ({ ok: true, outputs: [] })));
    expect(indexed).toHaveLength(5);
    expect(await countPoints(`${collection}_heads`)).toBe(5);
  });
});
