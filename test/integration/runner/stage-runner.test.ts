import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { CircuitOpenError, RateLimitedError } from '../../../src/core/signals.js';
import type { InputRecord, StageDefinition } from '../../../src/core/stage.js';
import { HEADERS } from '../../../src/core/records.js';
import type { RecordCodec } from '../../../src/kafka/codec.js';
import { StageRunner } from '../../../src/kafka/stage-runner.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { createWorkerHttp } from '../../../src/observability/http.js';
import { stagesLagSource } from '../../../src/kafka/lag.js';
import { classifyHttpStatus } from '../../../src/embedders/http-errors.js';
import { createTestTopics, readAll, testKafka, waitUntil } from '../../support/kafka.js';
import { uniqueName } from '../../support/unique.js';

/** JSON with bigint support: a real codec, so these tests exercise the runner alone. */
const jsonCodec: RecordCodec = {
  async decode(_topic, bytes) {
    const text = bytes.toString('utf8');
    if (!text.startsWith('{')) throw new PermanentError('not JSON', { code: 'undecodable' });
    const value = JSON.parse(text) as Record<string, unknown>;
    return { ...value, source_version: BigInt(value.source_version as string) };
  },
  async encode(_topic, value) {
    return Buffer.from(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  },
};

interface Item {
  name: string;
  source_version: bigint;
  occurred_at: number;
}

const upper = (failWith?: (r: InputRecord<Item>) => unknown): StageDefinition<Item, Item> => ({
  name: 'upper',
  group: 'upper',
  inputs: ['in'],
  output: 'out',
  async process(records) {
    return records.map((r) => {
      const error = failWith?.(r);
      if (error) return { ok: false, error };
      return {
        ok: true,
        outputs: [{ topic: 'out', key: r.key, value: r.value === null ? null : { ...r.value, name: r.value.name.toUpperCase() }, sourceVersion: r.sourceVersion, occurredAt: r.occurredAt }],
      };
    });
  },
});

describe('the stage runner', () => {
  let kafka: Kafka;
  let admin: Admin;
  let prefix: string;
  const runners: StageRunner[] = [];
  const created: string[] = [];

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  async function setup(stage: StageDefinition<Item, Item>, options: Partial<ConstructorParameters<typeof StageRunner>[1]> = {}, partitions = 1) {
    prefix = `${uniqueName('runner')}.`;
    const topics = [`${prefix}in`, `${prefix}out`, `${prefix}upper.dlq`];
    await createTestTopics(admin, topics, partitions);
    created.push(...topics);
    const runner = new StageRunner(stage as StageDefinition, {
      kafka,
      codec: jsonCodec,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      topicPrefix: prefix,
      retryBackoff: { initialMs: 100, maxMs: 400 },
      systemPauseMs: 500,
      ...options,
    });
    runners.push(runner);
    return runner;
  }

  async function publish(records: Array<{ key: string; value: object | string | null; version?: number }>) {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({
      topic: `${prefix}in`,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value === null ? null : typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
        headers: r.version === undefined ? {} : { [HEADERS.sourceVersion]: String(r.version), [HEADERS.occurredAt]: '1700000000000' },
      })),
    });
    await producer.disconnect();
  }

  const item = (name: string, v: number) => ({ name, source_version: String(v), occurred_at: 1_700_000_000_000 + v });

  it('maps every record in order and passes tombstones on with their version', async () => {
    const runner = await setup(upper());
    await publish([{ key: 'a', value: item('lamp', 1) }, { key: 'b', value: item('desk', 2) }, { key: 'a', value: null, version: 3 }]);
    await runner.start();
    await waitUntil('three outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 3);
    const out = await readAll(kafka, `${prefix}out`);
    expect(out.map((r) => [r.key, r.value === null ? null : JSON.parse(r.value.toString()).name])).toEqual([['a', 'LAMP'], ['b', 'DESK'], ['a', null]]);
    expect(out[2]!.headers[HEADERS.sourceVersion]).toBe('3');
  });

  it('works through a large slice in steps of at most 500 records, in order, each result with its own record', async () => {
    const calls: number[] = [];
    const stage = upper();
    const runner = await setup({ ...stage, process: (records, context) => (calls.push(records.length), stage.process(records, context)) });
    // Undecodable records on both sides of the step boundaries, so a result paired with the wrong
    // record would show as a key with another key's name.
    const broken = new Set([0, 499, 500, 1000, 1199]);
    await publish(Array.from({ length: 1200 }, (_, i) => ({ key: `k${i}`, value: broken.has(i) ? '%%not-json' : item(`n${i}`, i + 1) })));
    await runner.start();
    await waitUntil('1,195 outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 1195);
    const out = await readAll(kafka, `${prefix}out`);
    expect(out.map((r) => `${r.key}=${JSON.parse(r.value!.toString()).name}`)).toEqual(
      Array.from({ length: 1200 }, (_, i) => i).filter((i) => !broken.has(i)).map((i) => `k${i}=N${i}`),
    );
    expect((await readAll(kafka, `${prefix}upper.dlq`)).map((r) => r.key)).toEqual([...broken].map((i) => `k${i}`));
    expect(Math.max(...calls)).toBeLessThanOrEqual(500);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(1195);
  });

  it('hands a terminal stage (one that writes to a target in batches) its slice whole', async () => {
    const calls: number[] = [];
    const stage = upper();
    const runner = await setup({ ...stage, terminal: true, process: (records, context) => (calls.push(records.length), stage.process(records, context)) });
    await publish(Array.from({ length: 1200 }, (_, i) => ({ key: `k${i}`, value: item(`n${i}`, i + 1) })));
    await runner.start();
    await waitUntil('1,200 outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 1200);
    expect(calls).toEqual([1200]);
  });

  it('exports the lag of its group on /metrics, read from Kafka', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const runner = await setup(upper(), { metrics });
    metrics.setLagSource(stagesLagSource(kafka, prefix, [runner]));
    const lagSample = async () => {
      const text = await metrics.registry.metrics();
      return /^ragsync_consumer_lag\{stage="upper",group="([^"]+)"\} (\d+)$/m.exec(text);
    };
    await publish([{ key: 'a', value: item('lamp', 1) }, { key: 'b', value: item('desk', 2) }, { key: 'c', value: item('shelf', 3) }]);
    // Nothing committed yet: the whole input is lag.
    expect((await lagSample())?.slice(1)).toEqual([runner.groupId, '3']);
    await runner.start();
    await waitUntil('the lag to reach 0', async () => (await lagSample())?.[2] === '0');
    metrics.setLagSource(undefined);
    expect(await lagSample()).toBeNull();
  });

  it('sends a permanent failure and an undecodable record to the DLQ and goes on', async () => {
    const runner = await setup(upper((r) => (r.value?.name === 'poison' ? new PermanentError('name is poison', { code: 'validation_failed' }) : undefined)));
    await publish([{ key: 'a', value: item('ok-1', 1) }, { key: 'b', value: item('poison', 2) }, { key: 'c', value: '%%not-json' }, { key: 'd', value: item('ok-2', 4) }]);
    await runner.start();
    await waitUntil('two outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 2);
    const dlq = await readAll(kafka, `${prefix}upper.dlq`);
    expect(dlq.map((r) => [r.key, r.headers[HEADERS.errorClass], r.headers[HEADERS.origOffset]])).toEqual([
      ['b', 'permanent', '1'],
      ['c', 'permanent', '2'],
    ]);
    expect(dlq[0]!.headers[HEADERS.errorMessage]).toBe('name is poison');
    expect(dlq[0]!.value?.toString()).toContain('poison');
  });

  it('retries a retryable failure in place without reordering the output', async () => {
    let failures = 2;
    const runner = await setup(upper((r) => (r.key === 'b' && failures-- > 0 ? new RetryableError('embedder is down', { code: 'http_503' }) : undefined)));
    await publish([{ key: 'a', value: item('one', 1) }, { key: 'b', value: item('two', 2) }, { key: 'c', value: item('three', 3) }]);
    await runner.start();
    await waitUntil('three outputs', async () => (await readAll(kafka, `${prefix}out`)).length >= 3);
    const out = await readAll(kafka, `${prefix}out`);
    expect(out.map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect(failures).toBe(-1);
    expect(await readAll(kafka, `${prefix}upper.dlq`)).toEqual([]);
  });

  it('pauses on a system error instead of filling the DLQ', async () => {
    let broken = true;
    const runner = await setup(upper(() => (broken ? new SystemError('401 from the target', { code: 'unauthorized' }) : undefined)));
    await publish([{ key: 'a', value: item('one', 1) }, { key: 'b', value: item('two', 2) }]);
    await runner.start();
    await waitUntil('the stage to pause', () => runner.health().pausedPartitions.length > 0);
    expect(runner.health().lastError?.class).toBe('system');
    expect(await readAll(kafka, `${prefix}upper.dlq`)).toEqual([]);
    broken = false;
    await waitUntil('two outputs after the fix', async () => (await readAll(kafka, `${prefix}out`)).length === 2);
  });

  it('pauses when the DLQ rate passes its cap', async () => {
    const runner = await setup(upper(() => new PermanentError('always wrong', { code: 'validation_failed' })), { dlqRateCapPerMinute: 2 });
    await publish([1, 2, 3, 4, 5].map((v) => ({ key: `k${v}`, value: item(`n${v}`, v) })));
    await runner.start();
    await waitUntil('the stage to pause', () => runner.health().pausedPartitions.some((p) => p.reason === 'dlq-rate'));
    expect((await readAll(kafka, `${prefix}upper.dlq`)).length).toBe(2);
  });

  it('dead-letters a record whose output cannot be encoded or is too large, with its input coordinates, and its lag returns to 0', async () => {
    const codec: RecordCodec = {
      decode: jsonCodec.decode,
      async encode(topic, value) {
        if ((value as Item).name === 'BROKEN') throw new PermanentError('value does not match schema upper: invalid field(s) name', { code: 'schema_mismatch' });
        return jsonCodec.encode(topic, value);
      },
    };
    const metrics = createMetrics({ defaultMetrics: false });
    // 16 KiB of the limit is kept for key, headers and batch overhead: values above ~4 KiB are refused.
    const runner = await setup(upper(), { codec, metrics, maxMessageBytes: 20 * 1024 });
    metrics.setLagSource(stagesLagSource(kafka, prefix, [runner]));
    await publish([
      { key: 'a', value: item('fine', 1) },
      { key: 'b', value: item('broken', 2) },
      { key: 'c', value: item('x'.repeat(6000), 3) },
      { key: 'd', value: item('also fine', 4) },
    ]);
    await runner.start();
    await waitUntil('two outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 2);
    const dlq = await readAll(kafka, `${prefix}upper.dlq`);
    expect(dlq.map((r) => [r.key, r.headers[HEADERS.errorClass], r.headers[HEADERS.errorCode], r.headers[HEADERS.origTopic], r.headers[HEADERS.origPartition], r.headers[HEADERS.origOffset]])).toEqual([
      ['b', 'permanent', 'schema_mismatch', `${prefix}in`, '0', '1'],
      ['c', 'permanent', 'record_too_large', `${prefix}in`, '0', '2'],
    ]);
    // The DLQ keeps the input as it was, so it can be inspected and replayed.
    expect(JSON.parse(dlq[0]!.value!.toString()).name).toBe('broken');
    expect((await readAll(kafka, `${prefix}out`)).map((r) => r.key)).toEqual(['a', 'd']);
    const lag = async () => /^ragsync_consumer_lag\{stage="upper",group="[^"]+"\} (\d+)$/m.exec(await metrics.registry.metrics())?.[1];
    await waitUntil('the lag to return to 0', async () => (await lag()) === '0');
  });

  it('does not call a target again before the Retry-After it answered with', async () => {
    const calls: number[] = [];
    const target = createServer((_request, response) => {
      calls.push(Date.now());
      if (calls.length === 1) response.writeHead(429, { 'retry-after': '3', 'content-type': 'application/json' }).end('{"error":{"message":"slow down"}}');
      else response.writeHead(200).end('{}');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
    try {
      const runner = await setup(upper(), { retryBackoff: { initialMs: 50, maxMs: 100 } });
      // A stage that calls the target for every record and classifies its answer at the edge.
      (runner.stage as StageDefinition<Item, Item>).process = async (records) => {
        const results = [];
        for (const r of records) {
          const response = await fetch(url, { method: 'POST' });
          const body = await response.text();
          if (!response.ok) {
            results.push({ ok: false as const, error: classifyHttpStatus(response.status, response.headers, JSON.parse(body).error, { what: 'test target', redact: (t: string) => t }) });
            continue;
          }
          results.push({ ok: true as const, outputs: [{ topic: 'out', key: r.key, value: r.value, sourceVersion: r.sourceVersion, occurredAt: r.occurredAt }] });
        }
        return results;
      };
      await publish([{ key: 'a', value: item('one', 1) }]);
      await runner.start();
      await waitUntil('one output', async () => (await readAll(kafka, `${prefix}out`)).length === 1);
      expect(calls).toHaveLength(2);
      expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(3000);
    } finally {
      target.close();
    }
  });

  it('dead-letters a record that keeps failing after the attempt limit, and goes on with the next', async () => {
    let attempts = 0;
    const metrics = createMetrics({ defaultMetrics: false });
    const runner = await setup(
      upper((r) => {
        if (r.key !== 'stuck') return undefined;
        attempts += 1;
        return new RetryableError('the target keeps failing', { code: 'http_503' });
      }),
      { metrics, retryBackoff: { initialMs: 50, maxMs: 100 }, failurePolicy: { maxAttempts: 3 } },
    );
    await publish([{ key: 'stuck', value: item('never', 1) }, { key: 'next', value: item('after', 2) }]);
    await runner.start();
    await waitUntil('the next record', async () => (await readAll(kafka, `${prefix}out`)).length === 1);
    expect(attempts).toBe(3);
    const dlq = await readAll(kafka, `${prefix}upper.dlq`);
    expect(dlq.map((r) => [r.key, r.headers[HEADERS.errorClass], r.headers[HEADERS.attempt], r.headers[HEADERS.origOffset]])).toEqual([['stuck', 'retryable', '3', '0']]);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^ragsync_records_total\{stage="upper",outcome="retried"\} 2$/m);
    expect(text).toMatch(/^ragsync_records_total\{stage="upper",outcome="dlq"\} 1$/m);
    expect(text).toMatch(/^ragsync_records_total\{stage="upper",outcome="ok"\} 1$/m);
  });

  it('counts records by their real outcome: ok, stale and dlq', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const stage = upper((r) => (r.key === 'poison' ? new PermanentError('poison', { code: 'validation_failed' }) : undefined));
    const inner = stage.process.bind(stage);
    stage.process = async (records, context) => (await inner(records, context)).map((result, i) => (records[i]!.key === 'old' && result.ok ? { ok: true, outputs: [], stale: true } : result));
    const runner = await setup(stage, { metrics });
    await publish([{ key: 'a', value: item('one', 1) }, { key: 'old', value: item('two', 2) }, { key: 'poison', value: item('three', 3) }, { key: 'b', value: item('four', 4) }]);
    await runner.start();
    await waitUntil('two outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 2);
    await waitUntil('the counters', async () => /outcome="dlq"\} 1$/m.test(await metrics.registry.metrics()));
    const counters = [...(await metrics.registry.metrics()).matchAll(/^ragsync_records_total\{stage="upper",outcome="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(counters)).toEqual({ ok: '2', stale: '1', dlq: '1' });
  });

  it('refuses retry tiers for a stage that is not terminal: a retry would reorder its output', () => {
    const options = { kafka, codec: jsonCodec, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), topicPrefix: 'unused.', retry: { delaysMs: [2_000] } };
    expect(() => new StageRunner(upper() as StageDefinition, options)).toThrow(/stage upper is not terminal/);
  });

  it('commits what it produced, so a restarted group goes on where it stopped', async () => {
    const first = await setup(upper());
    await publish([{ key: 'a', value: item('one', 1) }, { key: 'b', value: item('two', 2) }]);
    await first.start();
    await waitUntil('two outputs', async () => (await readAll(kafka, `${prefix}out`)).length === 2);
    await first.stop();
    await publish([{ key: 'c', value: item('three', 3) }]);
    const second = new StageRunner(upper() as StageDefinition, {
      kafka,
      codec: jsonCodec,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      topicPrefix: prefix,
    });
    runners.push(second);
    await second.start();
    await waitUntil('the third output', async () => (await readAll(kafka, `${prefix}out`)).length >= 3);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await readAll(kafka, `${prefix}out`)).map((r) => r.key)).toEqual(['a', 'b', 'c']);
  });
  describe.each([
    ['target-down', 'the target’s circuit is open', (waitMs: number) => new CircuitOpenError('test target', waitMs)],
    ['rate-limited', 'the endpoint’s rate limit is spent', (waitMs: number) => new RateLimitedError('test api', waitMs, 'rate')],
  ] as const)('when %s: %s', (reason, _why, refusal) => {
    it('stops calling the target for the wait on every partition, dead-letters nothing and stays ready', async () => {
      const metrics = createMetrics({ defaultMetrics: false });
      const refusals: number[] = [];
      const calls: number[] = [];
      let openUntil = 0;
      const stage = upper();
      const inner = stage.process.bind(stage);
      // A sink behind a shared breaker or limiter: refused calls never reach the target.
      stage.process = async (records, context) => {
        const now = Date.now();
        if (now < openUntil) {
          refusals.push(now);
          return records.map(() => ({ ok: false as const, error: refusal(openUntil - now) }));
        }
        calls.push(now);
        return inner(records, context);
      };
      const runner = await setup(stage, { metrics }, 3);
      const http = createWorkerHttp({ metrics, sources: () => [runner] });
      try {
        await runner.start();
        openUntil = Date.now() + 3_000;
        await publish([1, 2, 3, 4, 5, 6].map((v) => ({ key: `k${v}`, value: item(`n${v}`, v) })));
        await waitUntil('the stage to pause', () => runner.health().pausedPartitions.some((p) => p.reason === reason));
        const health = runner.health();
        expect(health.state).toBe('paused');
        expect(health.lastError?.class).toBe('retryable');
        const ready = await http.inject({ url: '/readyz' });
        expect(ready.statusCode).toBe(200);
        expect(await metrics.registry.metrics()).toMatch(new RegExp(`^ragsync_stage_paused\\{stage="upper",reason="${reason}"\\} 1$`, 'm'));

        await waitUntil('six outputs after the wait', async () => (await readAll(kafka, `${prefix}out`)).length === 6);
        // At most one refusal per partition: those in flight when the first came back; then silence.
        expect(refusals.length).toBeGreaterThanOrEqual(1);
        expect(refusals.length).toBeLessThanOrEqual(3);
        expect(refusals[refusals.length - 1]! - refusals[0]!).toBeLessThan(500);
        expect(Math.min(...calls)).toBeGreaterThanOrEqual(openUntil);
        expect(await readAll(kafka, `${prefix}upper.dlq`)).toEqual([]);
        await waitUntil('the pause to end', () => runner.health().state === 'running');
        const text = await metrics.registry.metrics();
        expect(text).toMatch(new RegExp(`^ragsync_stage_paused\\{stage="upper",reason="${reason}"\\} 0$`, 'm'));
        // Neither attempts nor failures of the records: each is counted once, as ok.
        expect(text).toMatch(/^ragsync_records_total\{stage="upper",outcome="ok"\} 6$/m);
        expect(text).not.toMatch(/outcome="(retried|dlq)"/);
      } finally {
        await http.close();
      }
    });
  });

  it('turns unready on a system error, unlike a target that is down', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const runner = await setup(upper(() => new SystemError('401 from the target', { code: 'unauthorized' })), { metrics, systemPauseMs: 5_000 });
    const http = createWorkerHttp({ metrics, sources: () => [runner] });
    try {
      await publish([{ key: 'a', value: item('one', 1) }]);
      await runner.start();
      await waitUntil('the stage to pause', () => runner.health().pausedPartitions.some((p) => p.reason === 'system'));
      expect((await http.inject({ url: '/readyz' })).statusCode).toBe(503);
      expect(await metrics.registry.metrics()).toMatch(/^ragsync_stage_paused\{stage="upper",reason="system"\} 1$/m);
    } finally {
      await http.close();
    }
  });
});
