import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../../src/coordination/errors.js';
import { RedisRateLimiter, type RateLimiterOptions } from '../../../src/coordination/rate-limiter.js';
import { uniqueName } from '../../support/unique.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';

describe('the rate limiter shared through Redis', () => {
  const admin = new Redis(url);
  const clients: Redis[] = [admin];
  let prefix: string;
  let now: number;
  const clock = () => now;

  /** One replica: its own connection, as another process would have. */
  function replica(options: Partial<RateLimiterOptions> = {}): RedisRateLimiter {
    const redis = new Redis(url);
    clients.push(redis);
    return new RedisRateLimiter(redis, { keyPrefix: prefix, clock, limits: { embeddings: { ratePerSecond: 10, burst: 5 } }, ...options });
  }

  beforeEach(() => {
    prefix = `${uniqueName('rate')}:`;
    now = 1_700_000_000_000;
  });
  afterEach(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  });
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });

  it('grants exactly the burst to concurrent takes from two replicas at one instant', async () => {
    const a = replica();
    const b = replica();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).take('embeddings')));
    expect(answers.filter((x) => x.ok)).toHaveLength(5);
    // Empty bucket, 10 per second: one token in 100 ms.
    for (const refused of answers.filter((x) => !x.ok)) expect(refused).toEqual({ ok: false, waitMs: 100, reason: 'rate' });
    // A quiet minute refills the bucket to the burst, not beyond.
    now += 60_000;
    const later = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).take('embeddings')));
    expect(later.filter((x) => x.ok)).toHaveLength(5);
  });

  it('never grants more than the rate allows across two replicas, in any window', async () => {
    const a = replica();
    const b = replica();
    const start = now;
    const grants: number[] = [];
    // 20 s of a fake clock moving in uneven steps, both replicas asking several times per step.
    let step = 0;
    while (now - start < 20_000) {
      now += [7, 13, 50, 1, 31][step++ % 5]!;
      const answers = await Promise.all([a.take('embeddings'), b.take('embeddings'), a.take('embeddings'), b.take('embeddings')]);
      for (const x of answers) if (x.ok) grants.push(now);
    }
    const elapsed = now - start;
    // Burst 5 plus 10 per second: at most 205 over the run, and the limiter must not starve callers.
    expect(grants.length).toBeLessThanOrEqual(5 + Math.floor((elapsed * 10) / 1000));
    expect(grants.length).toBeGreaterThanOrEqual(5 + Math.floor((elapsed * 10) / 1000) - 1);
    // Every window [grants[i], grants[j]] holds at most burst + rate × its length.
    for (let i = 0; i < grants.length; i++) {
      for (let j = i; j < grants.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(5 + ((grants[j]! - grants[i]!) * 10) / 1000);
      }
    }
  });

  it('takes several tokens at once and refuses a take larger than the burst', async () => {
    const a = replica();
    expect(await a.take('embeddings', 3)).toEqual({ ok: true });
    expect(await a.take('embeddings', 3)).toEqual({ ok: false, waitMs: 100, reason: 'rate' });
    expect(await a.take('embeddings', 2)).toEqual({ ok: true });
    await expect(a.take('embeddings', 6)).rejects.toThrow(RangeError);
  });

  it('keeps each endpoint in its own bucket with its own rate', async () => {
    const a = replica({ limits: { embeddings: { ratePerSecond: 10, burst: 5 }, shop: { ratePerSecond: 1, burst: 1 } } });
    expect(await a.take('shop')).toEqual({ ok: true });
    expect(await a.take('shop')).toEqual({ ok: false, waitMs: 1000, reason: 'rate' });
    expect(await a.take('embeddings', 5)).toEqual({ ok: true });
    // No limit configured and no default: only deadlines apply.
    for (let i = 0; i < 50; i++) expect(await a.take('unlimited')).toEqual({ ok: true });
  });

  it("honours one replica's Retry-After on the other: no grant before the deadline, then the rate without a burst", async () => {
    const a = replica();
    const b = replica();
    await a.blockFor('embeddings', 2_000);
    expect(await b.take('embeddings')).toEqual({ ok: false, waitMs: 2_000, reason: 'blocked' });
    now += 1_999;
    expect(await b.take('embeddings')).toEqual({ ok: false, waitMs: 1, reason: 'blocked' });
    now += 1;
    expect(await b.take('embeddings')).toEqual({ ok: false, waitMs: 100, reason: 'rate' });
    now += 100;
    expect(await b.take('embeddings')).toEqual({ ok: true });
    expect(await a.take('embeddings')).toEqual({ ok: false, waitMs: 100, reason: 'rate' });
  });

  it('keeps the later deadline when a shorter Retry-After arrives', async () => {
    const a = replica();
    const b = replica();
    await a.blockUntil('embeddings', now + 5_000);
    await b.blockFor('embeddings', 1_000);
    expect(await a.take('embeddings')).toEqual({ ok: false, waitMs: 5_000, reason: 'blocked' });
  });

  it('honours a Retry-After also on an endpoint without a rate', async () => {
    const a = replica();
    const b = replica();
    await a.blockFor('webhook', 30_000);
    expect(await b.take('webhook')).toEqual({ ok: false, waitMs: 30_000, reason: 'blocked' });
    now += 30_000;
    expect(await b.take('webhook')).toEqual({ ok: true });
  });

  it('throws a retryable RateLimitedError when the wait is longer than the caller may wait', async () => {
    const a = replica();
    await a.blockFor('embeddings', 60_000);
    const refused = a.waitFor('embeddings', 1, { maxWaitMs: 0 });
    await expect(refused).rejects.toBeInstanceOf(RateLimitedError);
    await expect(refused).rejects.toMatchObject({ code: 'rate_limited', errorClass: 'retryable', retryAfterMs: 60_000 });
  });

  it('gives every bucket a time to live no longer than it takes to refill, and a block one past its deadline', async () => {
    const a = replica();
    await a.take('embeddings', 5);
    const ttl = await admin.pttl(a.key('embeddings'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(500 + 1000);
    await a.blockFor('embeddings', 120_000);
    const blockedTtl = await admin.pttl(a.key('embeddings'));
    expect(blockedTtl).toBeGreaterThan(120_000);
    expect(blockedTtl).toBeLessThanOrEqual(120_000 + 500 + 1000);
  });

  it("uses Redis's own clock when no clock is given", async () => {
    const a = replica({ clock: undefined });
    await a.blockFor('embeddings', 60_000);
    const refused = await a.take('embeddings');
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.waitMs).toBeGreaterThan(50_000);
      expect(refused.waitMs).toBeLessThanOrEqual(60_000);
    }
  });

  describe('when Redis cannot be reached', () => {
    it('lets calls through (fails open) but keeps the deadlines this process knows', async () => {
      const warnings: string[] = [];
      const logger = { error: () => undefined, info: () => undefined, warn: (_: object, message: string) => void warnings.push(message) };
      const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      const limiter = new RedisRateLimiter(redis, { keyPrefix: prefix, logger, redisTimeoutMs: 500, limits: { embeddings: { ratePerSecond: 1, burst: 1 } } });
      expect(await limiter.take('embeddings')).toEqual({ ok: true, degraded: true });
      expect(await limiter.take('embeddings')).toEqual({ ok: true, degraded: true });
      await limiter.blockFor('embeddings', 60_000);
      const refused = await limiter.take('embeddings');
      expect(refused).toMatchObject({ ok: false, reason: 'blocked' });
      expect(warnings).toEqual([
        'rate limiter: Redis unavailable; calls go through (fail open)',
        'rate limiter: Redis unavailable; the Retry-After is kept by this process only',
      ]);
      redis.disconnect();
    });
  });
});
