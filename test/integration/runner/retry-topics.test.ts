import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { HEADERS } from '../../../src/core/records.js';
import type { InputRecord, RecordResult, StageDefinition } from '../../../src/core/stage.js';
import type { RecordCodec } from '../../../src/kafka/codec.js';
import { createRetryStage, retryConsumerOptions, withRetryDue } from '../../../src/kafka/retry-topics.js';
import { StageRunner, type StageRunnerOptions } from '../../../src/kafka/stage-runner.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { createTestTopics, readAll, testKafka, waitUntil, type ReadRecord } from '../../support/kafka.js';
import { uniqueName } from '../../support/unique.js';

interface Item {
  name: string;
  source_version: bigint;
  occurred_at: number;
}

const DELAYS = [2_000, 3_000, 4_000];
const PARTITIONS = 3;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** What the stage saw of one call for one record. */
interface Seen {
  key: string;
  version: bigint;
  value: Item | null;
  at: number;
  topic: string;
  partition: number;
  offset: string;
  headers: Record<string, string>;
}

/**
 * The terminal stage's target: a map with a version guard per key. Chosen `key@version`s fail
 * retryably a number of times (or permanently) before they are applied.
 */
class TestTarget {
  readonly applied = new Map<string, { version: bigint; value: Item | null }>();
  readonly seen: Seen[] = [];
  readonly failures = new Map<string, number>();
  readonly permanent = new Set<string>();
  staleDrops = 0;

  stage(): StageDefinition<Item, never> {
    return {
      name: 'sink',
      group: 'sink',
      inputs: ['in'],
      terminal: true,
      // As the store: partition n of every tier goes to one member of the retry consumer's group.
      coPartitioned: true,
      process: async (records) => records.map((r) => this.write(r)),
    };
  }

  callsOf(key: string): number {
    return this.seen.filter((s) => s.key === key).length;
  }

  private write(record: InputRecord<Item>): RecordResult<never> {
    this.seen.push({ key: record.key, version: record.sourceVersion, value: record.value, at: Date.now(), topic: record.topic, partition: record.partition, offset: record.offset, headers: record.headers });
    const id = `${record.key}@${record.sourceVersion}`;
    if (this.permanent.has(id)) return { ok: false, error: new PermanentError(`the target refuses ${id}`, { code: 'validation_failed' }) };
    const left = this.failures.get(id) ?? 0;
    if (left > 0) {
      this.failures.set(id, left - 1);
      return { ok: false, error: new RetryableError('target unavailable', { code: 'http_503' }) };
    }
    const current = this.applied.get(record.key);
    if (current && current.version > record.sourceVersion) {
      this.staleDrops += 1;
      return { ok: true, outputs: [], stale: true };
    }
    this.applied.set(record.key, { version: record.sourceVersion, value: record.value });
    return { ok: true, outputs: [] };
  }
}

describe('delayed retry topics of a terminal stage', () => {
  let admin: Admin;
  let prefix: string;
  /** The tiers of the current test. */
  let delays: readonly number[] = DELAYS;
  const kafkas: Kafka[] = [];
  const runners: StageRunner[] = [];
  const created: string[] = [];

  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  const tierTopic = (tier: number) => `${prefix}sink.retry.${delays[tier]! / 1000}s`;

  async function createTopics(tiers: readonly number[] = DELAYS): Promise<void> {
    prefix = `${uniqueName('retry')}.`;
    delays = tiers;
    const topics = [`${prefix}in`, `${prefix}sink.dlq`, ...delays.map((_, tier) => tierTopic(tier)), `${prefix}sink.retry.due`];
    await createTestTopics(admin, topics, PARTITIONS);
    created.push(...topics);
  }

  /** JSON values; only the input topic has a "schema": a retry record decoded as its own topic would fail. */
  const codec = (): RecordCodec => {
    const input = `${prefix}in`;
    return {
      async decode(topic, bytes) {
        if (topic !== input) throw new PermanentError(`no value schema for topic ${topic}`, { code: 'no_schema_for_topic' });
        const value = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
        return { ...value, source_version: BigInt(value.source_version as string) };
      },
      async encode() {
        throw new PermanentError('the sink has no outputs', { code: 'unexpected_output' });
      },
    };
  };

  /** A worker: the stage's runner and its retry consumer, on a Kafka client of their own. */
  async function startWorker(target: TestTarget, metrics: Metrics): Promise<StageRunner[]> {
    const kafka = testKafka();
    kafkas.push(kafka);
    const retry = { delaysMs: delays };
    const common: StageRunnerOptions = {
      kafka,
      codec: codec(),
      logger: createLogger({ level: 'silent' }),
      metrics,
      topicPrefix: prefix,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 20_000,
      retry,
    };
    const stage = target.stage() as StageDefinition;
    // As `run` wires them: the stage reads its due topic, the retry consumer forwards to it.
    const worker = [new StageRunner(withRetryDue(stage), common), new StageRunner(createRetryStage(stage, retry), { ...common, ...retryConsumerOptions(retry) })];
    runners.push(...worker);
    await Promise.all(worker.map((r) => r.start()));
    return worker;
  }

  async function publish(records: Array<{ key: string; version: number; value?: 'tombstone' }>): Promise<void> {
    const producer = testKafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({
      topic: `${prefix}in`,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value === 'tombstone' ? null : JSON.stringify({ name: `${r.key}-v${r.version}`, source_version: String(r.version), occurred_at: 1_700_000_000_000 + r.version }),
        headers: { [HEADERS.sourceVersion]: String(r.version), [HEADERS.occurredAt]: String(1_700_000_000_000 + r.version), [HEADERS.correlationId]: `corr-${r.key}-${r.version}` },
      })),
    });
    await producer.disconnect();
  }

  const read = (topic: string): Promise<ReadRecord[]> => readAll(testKafka(), topic);
  const counter = async (metrics: Metrics, stage: string, outcome: string) =>
    Number(new RegExp(`^ragsync_records_total\\{stage="${stage}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(await metrics.registry.metrics())?.[1] ?? 0);

  /** Every retried call of the stage, against the due time its record carried. */
  function expectOnTime(target: TestTarget, maxLateFraction: number | undefined): void {
    const retried = target.seen.filter((s) => s.headers[HEADERS.dueAt] !== undefined);
    expect(retried.length).toBeGreaterThan(0);
    for (const s of retried) {
      const dueAt = Date.parse(s.headers[HEADERS.dueAt]!);
      const delay = delays[Number(s.headers[HEADERS.retryTier])]!;
      expect(s.at, `${s.key} tried before its due time`).toBeGreaterThanOrEqual(dueAt);
      if (maxLateFraction !== undefined) expect(s.at - dueAt, `${s.key} late from tier ${s.headers[HEADERS.retryTier]}`).toBeLessThanOrEqual(delay * maxLateFraction);
    }
  }

  it('moves a failing record tier by tier with its headers, applies it once the target recovers, never early and at most 10% late, and dead-letters it after the last tier', async () => {
    await createTopics();
    const target = new TestTarget();
    target.failures.set('a@1', 1);
    target.failures.set('b@2', 2);
    target.failures.set('c@3', 1);
    target.failures.set('d@4', 99);
    target.permanent.add('e@5');
    const metrics = createMetrics({ defaultMetrics: false });
    await startWorker(target, metrics);
    const records = [
      { key: 'a', version: 1 },
      { key: 'b', version: 2 },
      { key: 'c', version: 3, value: 'tombstone' as const },
      { key: 'd', version: 4 },
      { key: 'e', version: 5 },
      { key: 'f', version: 6 },
      { key: 'g', version: 7 },
      { key: 'h', version: 8 },
    ];
    await publish(records);

    await waitUntil('d in the DLQ after the last tier', async () => (await read(`${prefix}sink.dlq`)).length === 2, 60_000);
    const inputs = new Map((await read(`${prefix}in`)).map((r) => [r.key, r]));

    // Applied after recovery: a from tier 0, b from tier 1, the tombstone c as a tombstone.
    expect(Object.fromEntries([...target.applied].map(([k, v]) => [k, [v.version, v.value?.name ?? null]]))).toEqual({
      a: [1n, 'a-v1'],
      b: [2n, 'b-v2'],
      c: [3n, null],
      f: [6n, 'f-v6'],
      g: [7n, 'g-v7'],
      h: [8n, 'h-v8'],
    });
    // One call per attempt: reading a record before its due time is not an attempt.
    expect(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => target.callsOf(k))).toEqual([2, 3, 2, 4, 1, 1]);
    expectOnTime(target, 0.1);

    // A retried record reaches the stage as read from its original topic, with its original headers.
    const retriedB = target.seen.filter((s) => s.key === 'b');
    for (const s of retriedB) {
      expect([s.topic, s.partition, s.offset]).toEqual(['in', inputs.get('b')!.partition, inputs.get('b')!.offset]);
      expect(s.headers[HEADERS.correlationId]).toBe('corr-b-2');
    }

    const tiers = await Promise.all(DELAYS.map((_, tier) => read(tierTopic(tier))));
    expect(tiers.map((t) => t.map((r) => r.key).sort())).toEqual([['a', 'b', 'c', 'd'], ['b', 'd'], ['d']]);
    const firstFailure = new Map<string, string>();
    tiers.forEach((records, tier) => {
      for (const r of records) {
        const original = inputs.get(r.key)!;
        expect(r.partition, 'a retry record keeps its key, so its partition').toBe(original.partition);
        expect(r.headers).toMatchObject({
          [HEADERS.origTopic]: `${prefix}in`,
          [HEADERS.origPartition]: String(original.partition),
          [HEADERS.origOffset]: original.offset,
          [HEADERS.attempt]: String(tier + 1),
          [HEADERS.retryTier]: String(tier),
          [HEADERS.errorClass]: 'retryable',
          [HEADERS.errorCode]: 'http_503',
          [HEADERS.errorMessage]: 'target unavailable',
          [HEADERS.sourceVersion]: original.headers[HEADERS.sourceVersion],
          [HEADERS.correlationId]: original.headers[HEADERS.correlationId],
        });
        expect(r.headers[HEADERS.dueAt]).toMatch(ISO_MS);
        expect(r.headers[HEADERS.firstFailureAt]).toMatch(ISO_MS);
        expect(Date.parse(r.headers[HEADERS.dueAt]!) - Date.parse(r.headers[HEADERS.firstFailureAt]!)).toBeGreaterThanOrEqual(DELAYS[tier]!);
        expect(firstFailure.get(r.key) ?? r.headers[HEADERS.firstFailureAt]).toBe(r.headers[HEADERS.firstFailureAt]);
        firstFailure.set(r.key, r.headers[HEADERS.firstFailureAt]!);
        expect(r.value === null ? null : r.value.toString()).toBe(original.value === null ? null : original.value.toString());
      }
    });

    const dlq = new Map((await read(`${prefix}sink.dlq`)).map((r) => [r.key, r]));
    for (const [key, attempt, errorClass] of [
      ['d', '4', 'retryable'],
      ['e', '1', 'permanent'],
    ] as const) {
      const original = inputs.get(key)!;
      const dead = dlq.get(key)!;
      expect(dead.headers).toMatchObject({
        [HEADERS.origTopic]: `${prefix}in`,
        [HEADERS.origPartition]: String(original.partition),
        [HEADERS.origOffset]: original.offset,
        [HEADERS.attempt]: attempt,
        [HEADERS.errorClass]: errorClass,
      });
      expect(dead.headers).not.toHaveProperty(HEADERS.dueAt);
      expect(dead.value?.toString()).toBe(original.value?.toString());
    }
    expect(dlq.get('d')!.headers[HEADERS.firstFailureAt]).toBe(firstFailure.get('d'));

    // Each record ends as exactly one outcome per read. The stage reads originals and, from its due
    // topic, the copies (3 applied and 1 dead-lettered of the 4 that went into the tiers, 3 of
    // those again); the retry consumer forwards each copy once, when due.
    await waitUntil('the counters', async () => (await counter(metrics, 'sink', 'dlq')) === 2);
    expect([await counter(metrics, 'sink', 'ok'), await counter(metrics, 'sink', 'retried'), await counter(metrics, 'sink', 'dlq')]).toEqual([6, 7, 2]);
    expect([await counter(metrics, 'sink.retry', 'ok'), await counter(metrics, 'sink.retry', 'retried'), await counter(metrics, 'sink.retry', 'dlq')]).toEqual([7, 0, 0]);
    // Waiting for a due time is the retry consumer's normal work, not a paused stage.
    expect(await metrics.registry.metrics()).not.toMatch(/ragsync_stage_paused\{[^}]*reason="not-due"/);
  });

  it('drops a retried record that a newer version of its key overtook, counted as stale', async () => {
    await createTopics();
    const target = new TestTarget();
    target.failures.set('k@1', 1);
    const metrics = createMetrics({ defaultMetrics: false });
    const [, retryRunner] = await startWorker(target, metrics);
    await publish([{ key: 'k', version: 1 }]);
    await waitUntil('k@1 in the first tier', async () => (await read(tierTopic(0))).length === 1);
    // Waiting for a due time shows on the partition, but the retry consumer is running, not paused.
    await waitUntil('the tier partition to wait', () => retryRunner!.health().pausedPartitions.some((p) => p.reason === 'not-due'));
    expect(retryRunner!.health().state).toBe('running');
    await publish([{ key: 'k', version: 2 }]);
    await waitUntil('the retried k@1 dropped', () => target.staleDrops === 1, 30_000);
    expect(target.applied.get('k')).toMatchObject({ version: 2n });
    expect(target.seen.map((s) => [s.version, s.headers[HEADERS.retryTier] ?? null])).toEqual([
      [1n, null],
      [2n, null],
      [1n, '0'],
    ]);
    await waitUntil('the stale count', async () => (await counter(metrics, 'sink', 'stale')) === 1);
    expect(await read(`${prefix}sink.dlq`)).toEqual([]);
  });

  it('loses nothing when a second worker joins the same groups and the first leaves while records wait in the tiers', async () => {
    await createTopics();
    const target = new TestTarget();
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    keys.forEach((key, i) => {
      if (i % 3 === 0) target.failures.set(`${key}@1`, 1);
      if (i % 3 === 1) target.failures.set(`${key}@1`, 2);
    });
    target.failures.set('key-2@1', 99);
    target.failures.set('key-5@1', 99);
    target.permanent.add('key-8@1');
    const metrics = createMetrics({ defaultMetrics: false });
    const first = await startWorker(target, metrics);
    await publish(keys.map((key) => ({ key, version: 1 })));
    await waitUntil('records in the first tier', async () => (await read(tierTopic(0))).length >= 10);
    await startWorker(target, createMetrics({ defaultMetrics: false }));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await Promise.all(first.map((r) => r.stop()));

    const expectedDead = ['key-2', 'key-5', 'key-8'];
    const settled = () => keys.every((key) => target.applied.has(key) || expectedDead.includes(key));
    await waitUntil('every key applied or dead-lettered', async () => settled() && new Set((await read(`${prefix}sink.dlq`)).map((r) => r.key)).size === expectedDead.length, 90_000);

    // Counted with a client of its own: what the DLQ holds, and what went through each tier.
    const dlq = await read(`${prefix}sink.dlq`);
    expect([...new Set(dlq.map((r) => r.key))].sort()).toEqual(expectedDead);
    expect(Object.fromEntries(dlq.map((r) => [r.key, r.headers[HEADERS.attempt]]))).toEqual({ 'key-2': '4', 'key-5': '4', 'key-8': '1' });
    const tiers = await Promise.all(DELAYS.map((_, tier) => read(tierTopic(tier))));
    const inTier = (tier: number) => new Set(tiers[tier]!.map((r) => r.key));
    const failingOnce = keys.filter((_, i) => i % 3 === 0 || i % 3 === 1 || i === 2 || i === 5);
    expect([...inTier(0)].sort()).toEqual(failingOnce.sort());
    expect(keys.filter((k) => !expectedDead.includes(k) && !target.applied.has(k))).toEqual([]);
    for (const key of keys.filter((k) => !expectedDead.includes(k))) expect(target.applied.get(key)?.version).toBe(1n);
    expectOnTime(target, undefined);
  });

  it('forgets the waits of partitions it lost in a rebalance: their new owner reads the due time and applies each record once', async () => {
    await createTopics([8_000]);
    const target = new TestTarget();
    const keys = Array.from({ length: 9 }, (_, i) => `key-${i}`);
    for (const key of keys) target.failures.set(`${key}@1`, 1);
    const [, firstRetry] = await startWorker(target, createMetrics({ defaultMetrics: false }));
    await publish(keys.map((key) => ({ key, version: 1 })));
    const waiting = async () => new Set((await read(tierTopic(0))).map((r) => r.partition));
    await waitUntil('every key in the tier', async () => (await read(tierTopic(0))).length === keys.length);
    const partitions = await waiting();
    const waitsOf = (runner: StageRunner) => runner.health().pausedPartitions.filter((p) => p.reason === 'not-due').map((p) => p.partition);
    await waitUntil('the first worker to wait on every tier partition', () => waitsOf(firstRetry!).length === partitions.size);

    const [, secondRetry] = await startWorker(target, createMetrics({ defaultMetrics: false }));
    await waitUntil('the second worker to wait on the partitions it took over', () => waitsOf(secondRetry!).length > 0);
    // Each waiting partition is held by exactly one member: the one that lost it forgot its wait.
    const first = waitsOf(firstRetry!);
    const second = waitsOf(secondRetry!);
    expect(first.filter((p) => second.includes(p))).toEqual([]);
    expect([...first, ...second].sort()).toEqual([...partitions].sort());

    await waitUntil('every key applied', () => keys.every((key) => target.applied.has(key)), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(keys.map((key) => target.callsOf(key))).toEqual(keys.map(() => 2));
    expectOnTime(target, undefined);
  });
});
