import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisCircuitBreaker } from '../../../src/coordination/circuit-breaker.js';
import { RedisRateLimiter } from '../../../src/coordination/rate-limiter.js';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { CircuitOpenError, RateLimitedError } from '../../../src/core/signals.js';
import { APPLIED, failed, type Sink, type SinkRecord, type SinkResult } from '../../../src/core/sink.js';
import { CallGate } from '../../../src/sinks/call-gate.js';
import { composeSink } from '../../../src/sinks/compose.js';
import { WoocommerceSink } from '../../../src/sinks/woocommerce/index.js';
import { uniqueName } from '../../support/unique.js';
import { startWooServer } from '../../support/woocommerce-server.js';
import { productRecord, targetOf } from '../commerce/woocommerce-fixtures.js';

/**
 * Sinks that call their target once per record (a shop's REST API) report failures per record.
 * The target here is a function of the record; Redis is the real one.
 */
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';
const admin = new Redis(url);
const clients: Redis[] = [admin];
let keyPrefix: string;

beforeEach(() => {
  keyPrefix = `${uniqueName('per-record')}:`;
});
afterEach(async () => {
  const keys = await admin.keys(`${keyPrefix}*`);
  if (keys.length > 0) await admin.del(...keys);
});
afterAll(() => {
  for (const client of clients) client.disconnect();
});

const record = (key: string): SinkRecord<string> => ({ topic: 'products', key, value: key, sourceVersion: 1n, occurredAt: 0 });

function perRecordSink(answer: (key: string) => SinkResult) {
  const calls: string[] = [];
  const sink: Sink<string> = {
    target: 'shop:test.example',
    connect: async () => undefined,
    close: async () => undefined,
    write: async (records) => records.map((r) => (calls.push(r.key), answer(r.key))),
  };
  return { sink, calls };
}

function replica() {
  const redis = new Redis(url);
  clients.push(redis);
  return {
    breaker: new RedisCircuitBreaker(redis, { keyPrefix, failureThreshold: 3, openMs: 60_000 }),
    limiter: new RedisRateLimiter(redis, { keyPrefix }),
  };
}

describe('when every record of a batch fails retryably', () => {
  it('counts each batch as one failure and opens the circuit after the threshold', async () => {
    const down = new RetryableError('502 from the shop', { code: 'shop_unavailable' });
    const { sink, calls } = perRecordSink(() => failed(down));
    const wrapped = composeSink(sink, replica());
    for (let i = 0; i < 2; i++) {
      const results = await wrapped.write([record('a'), record('b')]);
      expect(results).toEqual([failed(down), failed(down)]);
    }
    // The third opens the circuit: its records fail with the signal (no attempt), the 502 as its cause.
    const opening = await wrapped.write([record('a'), record('b')]);
    for (const result of opening) {
      expect(result).toMatchObject({ status: 'failed', error: expect.any(CircuitOpenError) });
      expect((result as { error: CircuitOpenError }).error.cause).toBe(down);
      expect((result as { error: CircuitOpenError }).error.retryAfterMs).toBeGreaterThan(59_000);
    }
    await expect(wrapped.write([record('a')])).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls).toHaveLength(6);
  });

  it('does not count a batch in which the target answered for one record', async () => {
    const { sink } = perRecordSink((key) => (key === 'ok' ? APPLIED : failed(new RetryableError('timeout', { code: 'shop_timeout' }))));
    const shared = replica();
    const wrapped = composeSink(sink, shared);
    for (let i = 0; i < 5; i++) await wrapped.write([record('ok'), record('slow')]);
    expect(await shared.breaker.state('shop:test.example')).toMatchObject({ state: 'closed', failures: 0 });
    const refused = composeSink(perRecordSink(() => failed(new PermanentError('400', { code: 'bad' }))).sink, shared);
    await refused.write([record('x')]);
    expect((await shared.breaker.state('shop:test.example')).state).toBe('closed');
  });
});

describe('when one record is answered 429 with Retry-After', () => {
  it('blocks the endpoint for every replica and fails that record with RateLimitedError, keeping the results before it', async () => {
    const limited = new RetryableError('429 from the shop', { code: 'shop_rate_limited', retryAfterMs: 30_000 });
    const { sink, calls } = perRecordSink((key) => (key === 'c' ? failed(limited) : APPLIED));
    const [a, b] = [replica(), replica()];
    const results = await composeSink(sink, a).write(['a', 'b', 'c'].map(record));
    expect(results.slice(0, 2)).toEqual([APPLIED, APPLIED]);
    expect(results[2]).toMatchObject({ status: 'failed', error: expect.any(RateLimitedError) });
    expect((results[2] as { error: RateLimitedError }).error.retryAfterMs).toBe(30_000);

    const other = composeSink(perRecordSink(() => APPLIED).sink, b);
    const refused = await other.write([record('d')]).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterMs).toBeGreaterThan(29_000);
    expect(calls).toEqual(['a', 'b', 'c']);
  });
});

describe('when each record costs the target one call', () => {
  it('takes a token per record from the shared bucket, and a batch larger than the bucket takes all of it', async () => {
    const redis = new Redis(url);
    clients.push(redis);
    const limiter = new RedisRateLimiter(redis, { keyPrefix, limits: { 'shop:test.example': { ratePerSecond: 1, burst: 5 } } });
    const { sink, calls } = perRecordSink(() => APPLIED);
    const wrapped = composeSink(sink, { limiter, rateLimit: { tokensPerWrite: (records) => records.length, maxWaitMs: 100 } });
    expect(await wrapped.write(['a', 'b', 'c'].map(record))).toHaveLength(3);
    const refused = await wrapped.write(['d', 'e', 'f'].map(record)).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterMs).toBeGreaterThan(500);
    expect(calls).toEqual(['a', 'b', 'c']);
    await redis.del(limiter.key('shop:test.example'));
    expect(await wrapped.write(Array.from({ length: 8 }, (_, i) => record(`big-${i}`)))).toHaveLength(8);
  });
});

describe('when a shop answers 429 with Retry-After while writes of two push groups are in flight', () => {
  it('makes no further call to the shop from any write before the deadline, and every write pauses', async () => {
    const shop = await startWooServer();
    try {
      // The product and the price group of one process: a limiter each, one shop.
      const lane = (sku: string) => {
        const { limiter } = replica();
        const redis = new Redis(url);
        clients.push(redis);
        return { sink: composeSink(new WoocommerceSink(targetOf(shop), { redis, keyPrefix }), { limiter }), records: [1, 2, 3].map((i) => productRecord(`${sku}-${i}`, 1n)) };
      };
      const [first, second] = [lane('LAMP'), lane('VASE')];
      // The first call is held 300 ms; the second is answered 429, so the held one's write goes on
      // (its batch) after the 429, unless each call waits for the deadline.
      shop.faults.latency = { ms: 300, times: 1 };
      shop.faults.tooManyRequests = 1;
      shop.faults.retryAfterSeconds = 30;
      const outcome = (write: Promise<SinkResult[]>) => write.then((results) => results.find((r) => r.status === 'failed')?.error ?? results, (error: unknown) => error);
      const [a, b] = await Promise.all([outcome(first.sink.write(first.records)), outcome(second.sink.write(second.records))]);
      const limited = shop.requests.find((r) => r.status === 429)!;
      expect(shop.requests.filter((r) => r.at! > limited.at!).map((r) => `${r.method} ${r.path}`)).toEqual([]);
      for (const signal of [a, b]) {
        expect(signal).toBeInstanceOf(RateLimitedError);
        expect((signal as RateLimitedError).retryAfterMs).toBeGreaterThan(29_000);
      }
      expect(shop.allProducts()).toEqual([]);
      // Another replica reads the deadline from Redis; this process's next write makes no call.
      expect(Number(await admin.hget(`${keyPrefix}ratelimit:woocommerce:${new URL(shop.url).host}`, 'blocked'))).toBeGreaterThan(Date.now() + 29_000);
      const calls = shop.requests.length;
      await expect(first.sink.write(first.records)).rejects.toBeInstanceOf(RateLimitedError);
      expect(shop.requests).toHaveLength(calls);
    } finally {
      await shop.close();
    }
  });
});

describe('a replica making calls when another one is told to wait', () => {
  it('reads the deadline from Redis before its next call, without waiting for its write to end', async () => {
    const [a, b] = [replica(), replica()];
    const redis = new Redis(url);
    clients.push(redis);
    const gate = new CallGate('shop:test.example', a.limiter, 1000);
    gate.watch(redis);
    await gate.pass();
    await b.limiter.blockFor('shop:test.example', 30_000);
    // The gate reads Redis at most every 250 ms.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await gate.pass().then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterMs).toBeGreaterThan(29_000);
  });
});
