import type { Kafka } from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../../src/cli/pipeline.js';
import { collectStatus, declaredStages } from '../../../src/cli/status.js';
import { HEADERS, type VectorSetRecord } from '../../../src/core/records.js';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { retryTopicName } from '../../../src/kafka/topic-catalogue.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { readAll, testKafka, waitUntil, type ReadRecord } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import type { QdrantTestServer, RecordedRequest } from '../../support/qdrant-server/server.js';
import { pipelineEnv, runCli, WorkerProcess } from '../../support/worker-process.js';

/**
 * The failure promises of docs/design.md §4 and docs/sinks.md, end to end: map, chunk and embed run
 * in this process, the store stage in two `ragsync run store` worker processes writing to the
 * Qdrant test server, which is made faulty. What landed is read behind the API (the server's
 * engine) and from Kafka with a client of the test's own, never through the code under test.
 */
const PARTITIONS = '4';

function productLine(tenant: string, id: string, version: number, data: Record<string, unknown> = {}, action: 'save' | 'delete' = 'save'): string {
  return JSON.stringify({
    type: 'product',
    tenant,
    store_id: 1,
    id,
    action,
    source_version: version,
    ...(action === 'save' ? { data: { sku: id, name: `Product ${id} v${version}`, description: `<p>Version ${version} of ${id}.</p>`, ...data } } : {}),
  });
}

const docKey = (tenant: string, id: string) => `${tenant}/product/${encodeURIComponent(id)}/1`;

/** A description of 1 to 4 paragraphs, so versions of one product differ in their number of chunks. */
function paragraphs(n: number, seed: string): string {
  const words = ['parcel', 'lantern', 'walnut', 'canvas', 'harbour', 'meadow', 'copper', 'thistle', 'juniper', 'basalt', 'quarry', 'orchard'];
  return Array.from({ length: n }, (_, p) =>
    `<h2>Part ${p + 1}</h2><p>${Array.from({ length: 30 }, (__, w) => `${words[(w * 7 + p * 3 + seed.length) % words.length]}${w % 5 === 0 ? ` ${seed}` : ''}`).join(' ')}.</p>`,
  ).join('\n');
}

/** What one document looks like in the store, read from the engine behind the API. */
interface Landed {
  version: bigint;
  deleted: boolean;
  /** Chunk ids of its points, sorted. */
  chunkIds: string[];
  /** The source versions its points carry. */
  pointVersions: string[];
  titles: string[];
}

interface EnginePoint {
  id: string | number;
  payload?: Record<string, unknown> | null;
}

async function scrollAll(server: QdrantTestServer, collection: string): Promise<EnginePoint[]> {
  const points: EnginePoint[] = [];
  let offset: unknown;
  do {
    const page = (await server.engine.run('scroll_points', collection, { limit: 1000, with_payload: true, with_vector: false, ...(offset === undefined || offset === null ? {} : { offset }) })) as {
      points: EnginePoint[];
      next_page_offset?: unknown;
    };
    points.push(...page.points);
    offset = page.next_page_offset;
  } while (offset !== undefined && offset !== null);
  return points;
}

/** Every document of the collection: its head (version, deleted) and its points. */
async function landed(server: QdrantTestServer, collection: string): Promise<Map<string, Landed>> {
  if (!server.engine.collections.has(collection)) return new Map();
  const docs = new Map<string, Landed>();
  for (const point of await scrollAll(server, `${collection}_heads`)) {
    const head = point.payload!.head as { doc_key: string; version: string; deleted: boolean };
    docs.set(head.doc_key, { version: BigInt(head.version), deleted: head.deleted, chunkIds: [], pointVersions: [], titles: [] });
  }
  for (const point of await scrollAll(server, collection)) {
    const payload = point.payload!;
    const key = String(payload.doc_key);
    const doc = docs.get(key) ?? { version: -1n, deleted: false, chunkIds: [], pointVersions: [], titles: [] };
    docs.set(key, doc);
    doc.chunkIds.push(String(payload.chunk_id));
    doc.pointVersions.push(String(payload.source_version));
    doc.titles.push(String(payload.title));
  }
  for (const doc of docs.values()) doc.chunkIds.sort();
  return docs;
}

/** Expected: the latest version of each document, deleted or not. */
type Expected = Map<string, { version: bigint; deleted: boolean }>;

function mismatches(expected: Expected, docs: Map<string, Landed>): string[] {
  const wrong: string[] = [];
  for (const [key, want] of expected) {
    const got = docs.get(key);
    if (got === undefined) wrong.push(`${key}: missing`);
    else if (got.version !== want.version || got.deleted !== want.deleted) wrong.push(`${key}: ${got.version}${got.deleted ? ' deleted' : ''} instead of ${want.version}${want.deleted ? ' deleted' : ''}`);
    else if (want.deleted && got.chunkIds.length > 0) wrong.push(`${key}: deleted but ${got.chunkIds.length} points left`);
    else if (!want.deleted && (got.chunkIds.length === 0 || got.pointVersions.some((v) => v !== String(want.version)))) wrong.push(`${key}: points ${got.pointVersions.join(',')} for version ${want.version}`);
  }
  return wrong;
}

/**
 * One pipeline on the stack with its own topic prefix, Redis prefix and Qdrant test server:
 * map, chunk and embed in this process, the store stage in two worker processes.
 */
class FailureStack {
  harness!: PipelineHarness;
  workers: WorkerProcess[] = [];
  env!: Record<string, string>;
  readonly kafka: Kafka = testKafka();
  readonly redis: Redis;

  constructor(private readonly settings: Record<string, string>) {
    this.redis = new Redis(process.env.REDIS_URL!);
  }

  get prefix(): string {
    return this.harness.config.topics.prefix;
  }

  get server(): QdrantTestServer {
    return this.harness.qdrant!;
  }

  get collection(): string {
    return this.harness.config.store.collection;
  }

  /** The store's circuit breaker state in Redis (`<redis prefix>circuit:<target>`). */
  get circuitKey(): string {
    return `${this.harness.config.redis.keyPrefix}circuit:qdrant:${new URL(this.server.url).host}/${this.collection}`;
  }

  topic(logical: string): string {
    return `${this.prefix}${logical}`;
  }

  get retryTopics(): string[] {
    return this.harness.config.topics.retryDelaysMs.map((delay) => this.topic(retryTopicName('store', delay)));
  }

  async start(): Promise<void> {
    this.harness = await PipelineHarness.create('qdrant', { RAGSYNC_PARTITIONS: PARTITIONS, ...this.settings }, { chunking: { maxTokens: 128, overlapTokens: 16 } });
    this.env = pipelineEnv(this.harness.config, { LOG_LEVEL: 'info', ...this.settings });
    this.workers = [WorkerProcess.start('store worker 1', ['store'], this.env), WorkerProcess.start('store worker 2', ['store'], this.env)];
    const pipeline = new Pipeline({ config: this.harness.config, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) });
    this.harness.pipeline = pipeline;
    await pipeline.start(['map', 'chunk', 'embed']);
    for (const worker of this.workers) await worker.waitForLog('its retry consumer running', 'stage running', { stage: 'store.retry' }, 120_000);
    // Both members in both store groups, so the partitions are split between the two processes.
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await waitUntil('two members in each store group', async () => {
        const { groups } = await admin.describeGroups([this.topic('store'), this.topic('store.retry')]);
        return groups.every((g) => g.state === 'Stable' && g.members.length === 2);
      }, 90_000);
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
    this.redis.disconnect();
    if (this.harness) {
      this.server.setFault(undefined);
      const violations = [...this.server.violations];
      await this.harness.close();
      expect(violations).toEqual([]);
    }
  }

  publish(lines: string[]): Promise<void> {
    return this.harness.publishLines(lines);
  }

  landed(): Promise<Map<string, Landed>> {
    return landed(this.server, this.collection);
  }

  /** Lag of every group of the pipeline, the store's retry consumer included. */
  async lags(): Promise<Record<string, number>> {
    const status = await collectStatus(this.harness.kafka, this.harness.config, declaredStages(this.harness.config));
    return Object.fromEntries(status.stages.map((s) => [s.stage, s.lag]));
  }

  /** Waits until every expected document is as expected and no group has lag. */
  async settle(expected: Expected, timeoutMs: number): Promise<void> {
    let last = '';
    await waitUntil('the expected state and no lag', async () => {
      // Lag first: reading the whole store on every check would load the target the workers write to.
      const lags = await this.lags();
      last = `lags ${JSON.stringify(lags)}`;
      if (!Object.values(lags).every((lag) => lag === 0)) return false;
      const wrong = mismatches(expected, await this.landed());
      if (wrong.length > 0) last = `${wrong.length} documents differ, e.g. ${wrong.slice(0, 3).join('; ')}`;
      return wrong.length === 0;
    }, timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}: ${last}; ${this.workers.map((w) => w.tail()).join(' // ')}`);
    });
  }

  async dlq(group: string): Promise<ReadRecord[]> {
    return readAll(this.kafka, this.topic(`${group}.dlq`));
  }

  async retried(): Promise<ReadRecord[]> {
    return (await Promise.all(this.retryTopics.map((t) => readAll(this.kafka, t)))).flat();
  }
}

/** Records the store's retry consumers of both workers dropped as older than what the store holds. */
async function staleRetries(stack: FailureStack): Promise<number> {
  // Retry copies are applied by the store stage itself (read from store.retry.due).
  const counts = await Promise.all(stack.workers.map((w) => w.recordCount('store', 'stale')));
  return counts.reduce((a, b) => a + b, 0);
}

const requestsBetween = (requests: RecordedRequest[], from: number, to: number) => requests.filter((r) => r.at >= from && r.at < to);

describe('a 20 s outage of the store target, with two store workers', () => {
  // The outage outlasts the retry tiers (2 + 4 + 8 = 14 s), so a record that used them up during it
  // would be dead-lettered; with 3 s open windows it spans about six of them.
  const stack = new FailureStack({
    RAGSYNC_RETRY_DELAYS: '2s,4s,8s',
    RAGSYNC_BREAKER_THRESHOLD: '5',
    RAGSYNC_BREAKER_OPEN_MS: '3000',
    RAGSYNC_BREAKER_HALF_OPEN_PROBES: '1',
  });

  beforeAll(() => stack.start(), 240_000);
  afterAll(() => stack.stop(), 120_000);

  it('opens the breaker, calls nothing while open but the probes, dead-letters nothing, and applies everything after recovery', { timeout: 240_000 }, async () => {
    const tenant = 'outage';
    const expected: Expected = new Map();
    const before = Array.from({ length: 100 }, (_, i) => productLine(tenant, `p${i}`, 100));
    for (let i = 0; i < 100; i++) expected.set(docKey(tenant, `p${i}`), { version: 100n, deleted: false });
    await stack.publish(before);
    await stack.settle(expected, 90_000);

    // The outage: every request answered 503 for 20 s, while updates and new products arrive.
    const outageMs = 20_000;
    const windows = new Map<number, number>();
    const poll = setInterval(() => {
      void stack.redis.hgetall(stack.circuitKey).then((h) => {
        if (h.state === 'open' && h.opened && h.until) windows.set(Number(h.opened), Number(h.until));
      }, () => undefined);
    }, 50);
    const start = Date.now();
    stack.server.setFault({ answer: { status: 503 } });
    try {
      const during = [
        ...Array.from({ length: 100 }, (_, i) => productLine(tenant, `p${i}`, 200, { description: `<p>Second version of p${i}.</p>` })),
        ...Array.from({ length: 100 }, (_, i) => productLine(tenant, `q${i}`, 100)),
      ];
      for (let i = 0; i < 100; i++) {
        expected.set(docKey(tenant, `p${i}`), { version: 200n, deleted: false });
        expected.set(docKey(tenant, `q${i}`), { version: 100n, deleted: false });
      }
      await stack.publish(during);
      await waitUntil('the outage to last 20 s', () => Date.now() - start >= outageMs, outageMs + 5_000);
    } finally {
      stack.server.setFault(undefined);
    }
    const healed = Date.now();
    clearInterval(poll);

    // The calls the target received during the outage, against the open windows of its circuit.
    const faulty = stack.server.requests.filter((r) => r.at >= start && r.at < healed);
    expect(faulty.length).toBeGreaterThan(0);
    expect(faulty.every((r) => r.fault === '503')).toBe(true);
    // Open windows, in order: 3 s each, the first after 5 failures, then one after each failed probe.
    const opens = [...windows.entries()].filter(([opened]) => opened >= start && opened < healed).sort((a, b) => a[0] - b[0]);
    expect(opens.length, `open windows ${JSON.stringify(opens)}`).toBeGreaterThanOrEqual(4);
    const report: string[] = [];
    opens.forEach(([opened, until], i) => {
      // The first window may still see the calls made before it opened arrive (a few ms). A later
      // window is opened by a failed probe, whose request the server records in the same
      // millisecond as the reopening at times (both clocks count whole ms): that millisecond
      // belongs to the half-open time before it, where the probe is counted.
      const from = i === 0 ? opened + 1_000 : opened + 1;
      const inside = requestsBetween(faulty, from, Math.min(until, healed));
      if (inside.length > 0) report.push(`window ${i} (${opened}..${until}): ${inside.length} calls (${inside.map((r) => `${r.operationId} at +${r.at - opened} ms`).join(', ')})`);
      // Half-open after it: at most the probes (1 call each: the probe's first request fails).
      const next = opens[i + 1]?.[0] ?? healed;
      const probes = requestsBetween(faulty, until, opens[i + 1] ? next + 1 : next);
      if (probes.length > 1) report.push(`half-open after window ${i}: ${probes.length} calls`);
    });
    // What the workers said about the circuit and Redis during the outage, to tell why if a call slipped through.
    const said = stack.workers.flatMap((w) => w.lines.filter((l) => l.time >= start && l.time < healed && /circuit|Redis/.test(l.msg)).map((l) => `${w.name} +${l.time - start} ms: ${l.msg}`));
    expect(report, said.join('\n')).toEqual([]);
    // Calls during the outage: the ones that opened the circuit, and one probe per window.
    expect(faulty.length, `calls during the outage: ${faulty.map((r) => r.at - start).join(',')}`).toBeLessThanOrEqual(requestsBetween(faulty, start, opens[0]![0] + 1_000).length + opens.length);

    await stack.settle(expected, 120_000);
    // Both processes met the open circuit; the circuit opened and, once the target was back, closed.
    for (const worker of stack.workers) expect(worker.logged('stage paused: the target is down').length, worker.tail()).toBeGreaterThan(0);
    const all = stack.workers.flatMap((w) => w.lines);
    expect(all.filter((l) => l.msg.startsWith('circuit opened')).length).toBeGreaterThanOrEqual(1);
    expect(all.filter((l) => l.msg.startsWith('circuit closed')).length).toBeGreaterThanOrEqual(1);
    expect(await stack.dlq('store')).toEqual([]);
    expect(mismatches(expected, await stack.landed())).toEqual([]);
  });
});

describe('the store target failing in other ways, with two store workers', () => {
  // Eight tiers: with 30% of writes failing, a record is dead-lettered only after 9 failures in a row.
  const stack = new FailureStack({
    RAGSYNC_RETRY_DELAYS: '1s,2s,3s,4s,5s,6s,7s,8s',
    RAGSYNC_BREAKER_THRESHOLD: '5',
    RAGSYNC_BREAKER_OPEN_MS: '2000',
    // Slices of 100: many writes, so the random faults hit many of them.
    RAGSYNC_MAX_RECORDS_PER_CALL: '100',
  });

  beforeAll(() => stack.start(), 240_000);
  afterAll(() => stack.stop(), 120_000);

  it('answers a 429 with Retry-After with no call from either worker before the deadline, then applies everything', { timeout: 120_000 }, async () => {
    const tenant = 'throttle';
    const marker = `throttle-${Date.now().toString(36)}`;
    const retryAfterSeconds = 8;
    stack.server.setFault({ answer: { status: 429, retryAfterSeconds }, operations: ['batch_update'], containing: marker, times: 1 });
    const expected: Expected = new Map([[docKey(tenant, 'first'), { version: 10n, deleted: false }]]);
    await stack.publish([productLine(tenant, 'first', 10, { name: `First ${marker}` })]);
    await waitUntil('the 429', () => stack.server.requests.some((r) => r.fault === '429'), 60_000);
    const limited = stack.server.requests.find((r) => r.fault === '429')!;
    // Records for every partition, so both workers have writes to make before the deadline.
    const more = Array.from({ length: 200 }, (_, i) => productLine(tenant, `t${i}`, 10));
    for (let i = 0; i < 200; i++) expected.set(docKey(tenant, `t${i}`), { version: 10n, deleted: false });
    await stack.publish(more);
    await stack.settle(expected, 90_000);

    const deadline = limited.at + retryAfterSeconds * 1000;
    const early = stack.server.requests.filter((r) => r.at > limited.at && r.at < deadline);
    expect(early.map((r) => `${r.operationId} at +${r.at - limited.at} ms`)).toEqual([]);
    expect(stack.server.requests.some((r) => r.at >= deadline && r.operationId === 'batch_update')).toBe(true);
    // Both workers had writes to make and were held back by the shared deadline.
    for (const worker of stack.workers) {
      const held = worker.logged('stage paused: rate limited').filter((l) => l.time > limited.at && l.time < deadline);
      expect(held.length, worker.tail()).toBeGreaterThan(0);
    }
    expect(await stack.dlq('store')).toEqual([]);
  });

  it('dead-letters the one record a 400 is about after 0 retries with the target\'s reason, and applies the others', { timeout: 120_000 }, async () => {
    const tenant = 'refused';
    const marker = `refused-${Date.now().toString(36)}`;
    const reason = `Wrong input: payload of point contains the value "${marker}", which is not allowed`;
    stack.server.setFault({ answer: { status: 400, reason }, operations: ['batch_update'], containing: marker });
    try {
      const expected: Expected = new Map();
      const lines = Array.from({ length: 60 }, (_, i) => {
        if (i === 23) return productLine(tenant, 'bad', 7, { name: `Lamp ${marker}` });
        expected.set(docKey(tenant, `r${i}`), { version: 7n, deleted: false });
        return productLine(tenant, `r${i}`, 7);
      });
      await stack.publish(lines);
      await stack.settle(expected, 90_000);
      await waitUntil('the refused record in store.dlq', async () => (await stack.dlq('store')).some((r) => r.key === docKey(tenant, 'bad')), 30_000);
    } finally {
      stack.server.setFault(undefined);
    }
    const dead = (await stack.dlq('store')).filter((r) => r.key.startsWith(`${tenant}/`));
    expect(dead.map((r) => r.key)).toEqual([docKey(tenant, 'bad')]);
    expect(dead[0]!.headers).toMatchObject({ [HEADERS.attempt]: '1', [HEADERS.errorClass]: 'permanent', [HEADERS.origTopic]: stack.topic('vectors') });
    expect(dead[0]!.headers[HEADERS.errorMessage]).toContain(reason);
    expect((await stack.retried()).filter((r) => r.key.startsWith(`${tenant}/`))).toEqual([]);
    expect((await stack.landed()).get(docKey(tenant, 'bad'))).toBeUndefined();
  });

  it('drops a retried record that a newer version overtook while it waited in a retry tier', { timeout: 120_000 }, async () => {
    const tenant = 'overtaken';
    const marker = `overtaken-${Date.now().toString(36)}`;
    const key = docKey(tenant, 'o');
    const staleBefore = await staleRetries(stack);
    // Version 1 cannot be written (503) as long as the target holds nothing newer.
    stack.server.setFault({ answer: { status: 503 }, operations: ['batch_update'], containing: marker });
    try {
      await stack.publish([productLine(tenant, 'o', 1, { name: `Old ${marker}` })]);
      await waitUntil('version 1 in a retry tier', async () => (await stack.retried()).some((r) => r.key === key), 60_000);
      await stack.publish([productLine(tenant, 'o', 2, { name: 'New o' })]);
      await stack.settle(new Map([[key, { version: 2n, deleted: false }]]), 90_000);
    } finally {
      stack.server.setFault(undefined);
    }
    const retried = (await stack.retried()).filter((r) => r.key === key);
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.every((r) => r.headers[HEADERS.sourceVersion] === '1')).toBe(true);
    const doc = (await stack.landed()).get(key)!;
    expect(doc.version).toBe(2n);
    expect(new Set(doc.titles)).toEqual(new Set(['New o']));
    expect((await stack.dlq('store')).filter((r) => r.key === key)).toEqual([]);
    // The retry consumer of one of the workers read it back and the version guard dropped it.
    expect(await staleRetries(stack)).toBeGreaterThan(staleBefore);
  });

  it('applies a dead-lettered record with `dlq replay` once the cause is fixed; replaying it again after a newer version changes nothing', { timeout: 180_000 }, async () => {
    const tenant = 'replayed';
    const marker = `replayed-${Date.now().toString(36)}`;
    const key = docKey(tenant, 'x');
    stack.server.setFault({ answer: { status: 400, reason: `Wrong input: value "${marker}" is not allowed` }, operations: ['batch_update'], containing: marker });
    try {
      await stack.publish([productLine(tenant, 'x', 1, { name: `Replayed ${marker}` })]);
      await waitUntil('x in store.dlq', async () => (await stack.dlq('store')).some((r) => r.key === key), 60_000);
    } finally {
      // The cause is fixed.
      stack.server.setFault(undefined);
    }
    expect((await stack.landed()).get(key)).toBeUndefined();

    const replay = await runCli(['dlq', 'replay', '--group', 'store', '--filter', `key=${tenant}/`], stack.env);
    expect(replay.code, replay.err).toBe(0);
    expect(replay.out).toContain('store: replayed 1 record');
    await stack.settle(new Map([[key, { version: 1n, deleted: false }]]), 60_000);
    expect(new Set((await stack.landed()).get(key)!.titles)).toEqual(new Set([`Replayed ${marker}`]));

    await stack.publish([productLine(tenant, 'x', 2, { name: 'Replayed x, second version' })]);
    await stack.settle(new Map([[key, { version: 2n, deleted: false }]]), 60_000);
    const tier0 = stack.retryTopics[0]!;
    const replayedBefore = (await readAll(stack.kafka, tier0)).filter((r) => r.key === key).length;
    const staleBefore = await staleRetries(stack);
    const again = await runCli(['dlq', 'replay', '--group', 'store', '--filter', `key=${tenant}/`, '--again'], stack.env);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('store: replayed 1 record');
    expect((await readAll(stack.kafka, tier0)).filter((r) => r.key === key)).toHaveLength(replayedBefore + 1);
    // Read back by the retry consumer (no lag) and dropped: the newer version stays.
    await stack.settle(new Map([[key, { version: 2n, deleted: false }]]), 60_000);
    const doc = (await stack.landed()).get(key)!;
    expect(doc.version).toBe(2n);
    expect(new Set(doc.titles)).toEqual(new Set(['Replayed x, second version']));
    expect(new Set(doc.pointVersions)).toEqual(new Set(['2']));
    expect(await staleRetries(stack)).toBeGreaterThan(staleBefore);
  });

  it('dead-letters a poison record among 1,000 good ones in map.dlq, applies the good ones, and every lag returns to 0', { timeout: 180_000 }, async () => {
    const tenant = 'bulk';
    const poisonKey = docKey(tenant, 'poison');
    const expected: Expected = new Map();
    const good = Array.from({ length: 1000 }, (_, i) => {
      expected.set(docKey(tenant, `g${i}`), { version: 5n, deleted: false });
      return productLine(tenant, `g${i}`, 5);
    });
    await stack.publish(good.slice(0, 500));
    const producer = stack.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic: stack.topic('changes.product'), acks: -1, messages: [{ key: poisonKey, value: Buffer.from('not an avro record at all') }] });
    await producer.disconnect();
    await stack.publish(good.slice(500));
    await stack.settle(expected, 150_000);

    const dead = (await stack.dlq('map')).filter((r) => r.key.startsWith(`${tenant}/`));
    expect(dead.map((r) => r.key)).toEqual([poisonKey]);
    expect(dead[0]!.headers).toMatchObject({ [HEADERS.errorClass]: 'permanent', [HEADERS.origTopic]: stack.topic('changes.product') });
    expect(dead[0]!.value).toEqual(Buffer.from('not an avro record at all'));
    const lags = await stack.lags();
    expect(Object.keys(lags).sort()).toEqual(['chunk', 'embed', 'map', 'store', 'store.retry']);
    expect(lags).toEqual({ map: 0, chunk: 0, embed: 0, store: 0, 'store.retry': 0 });
    expect((await stack.landed()).get(poisonKey)).toBeUndefined();
  });

  it('ends in the expected state when 30% of the store\'s writes fail at random over 10,000 records', { timeout: 300_000 }, async () => {
    const tenant = 'random';
    // Enough records for many writes however many slices a write takes together (the faults are
    // drawn per request: with 35 writes, more than 10 faults was a coin toss).
    const entities = 2000;
    const expected: Expected = new Map();
    const lines: string[] = [];
    // Five versions of each of 2,000 products, each with its own number of paragraphs; every
    // tenth product ends deleted.
    for (let version = 1; version <= 5; version++) {
      for (let i = 0; i < entities; i++) {
        const id = `e${i}`;
        const deleted = version === 5 && i % 10 === 0;
        lines.push(deleted ? productLine(tenant, id, version, {}, 'delete') : productLine(tenant, id, version, { description: paragraphs(1 + ((i + version) % 4), `${id}v${version}`) }));
        expected.set(docKey(tenant, id), { version: BigInt(version), deleted });
      }
    }
    expect(lines).toHaveLength(10_000);
    const dlqBefore = (await stack.dlq('store')).length;
    stack.server.setFault({ answer: { status: 503 }, operations: ['batch_update'], probability: 0.3 });
    const start = Date.now();
    try {
      await stack.publish(lines);
      await stack.settle(expected, 150_000);
    } finally {
      stack.server.setFault(undefined);
    }
    const faults = stack.server.requests.filter((r) => r.at >= start && r.fault === '503').length;
    const writes = stack.server.requests.filter((r) => r.at >= start && r.operationId === 'batch_update').length;
    expect(faults, `${faults} of ${writes} writes faulted`).toBeGreaterThanOrEqual(5);
    expect(faults / writes, `${faults} of ${writes} writes faulted`).toBeGreaterThan(0.1);
    expect((await stack.dlq('store')).length).toBe(dlqBefore);
    expect((await stack.retried()).filter((r) => r.key.startsWith(`${tenant}/`)).length).toBeGreaterThan(0);

    // Every document as its newest vectors record says: version, and exactly its chunks.
    const serde = new RegistrySerde(new RegistryClient(stack.harness.config.registry), { prefix: stack.prefix });
    const newest = new Map<string, { version: bigint; chunkIds: string[] }>();
    for (const record of await readAll(stack.kafka, stack.topic('vectors'), 60_000)) {
      if (!record.key.startsWith(`${tenant}/`)) continue;
      const set = record.value === null ? null : ((await serde.decode(stack.topic('vectors'), record.value)) as VectorSetRecord);
      const version = set ? set.source_version : BigInt(record.headers[HEADERS.sourceVersion]!);
      const current = newest.get(record.key);
      if (current !== undefined && current.version > version) continue;
      newest.set(record.key, { version, chunkIds: set ? set.chunks.map((c) => c.id).sort() : [] });
    }
    const docs = await stack.landed();
    expect(mismatches(expected, docs)).toEqual([]);
    const wrongChunks: string[] = [];
    for (const [key, want] of expected) {
      const got = docs.get(key)!;
      const fromTopic = newest.get(key)!;
      if (fromTopic.version !== want.version) wrongChunks.push(`${key}: vectors topic ends at ${fromTopic.version}`);
      else if (got.chunkIds.join(',') !== fromTopic.chunkIds.join(',')) wrongChunks.push(`${key}: chunks ${got.chunkIds.join(',')} instead of ${fromTopic.chunkIds.join(',')}`);
    }
    expect(wrongChunks).toEqual([]);
    expect(new Set([...expected.keys()].map((k) => docs.get(k)!.chunkIds.length)).size).toBeGreaterThan(2);
  });
});
