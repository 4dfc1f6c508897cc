import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisCircuitBreaker, type CircuitAdmission, type CircuitBreakerOptions, type CircuitPermit } from '../../../src/coordination/circuit-breaker.js';
import { CircuitOpenError } from '../../../src/coordination/errors.js';
import { createCoordinationRedis } from '../../../src/coordination/redis.js';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { uniqueName } from '../../support/unique.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';
const unavailable = () => new RetryableError('503 from the target', { code: 'target_unavailable' });
const OPEN_MS = 300_000;

function permitOf(admission: CircuitAdmission): CircuitPermit {
  if (!admission.allowed) throw new Error(`expected a permit, got a refusal (${admission.state}, ${admission.waitMs} ms)`);
  return admission;
}

/** Log lines by level, as pino would receive them. */
function recordingLogger() {
  const lines: Array<{ level: string; details: object; message: string }> = [];
  const at = (level: string) => (details: object, message: string) => void lines.push({ level, details, message });
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info') } };
}

describe('the circuit breaker shared through Redis', () => {
  const admin = new Redis(url);
  const clients: Redis[] = [admin];
  let prefix: string;
  let now: number;
  const clock = () => now;

  /** One replica: its own connection, as another process would have. */
  function replica(options: Partial<CircuitBreakerOptions> = {}): RedisCircuitBreaker {
    const redis = new Redis(url);
    clients.push(redis);
    return new RedisCircuitBreaker(redis, { keyPrefix: prefix, clock, ...options });
  }

  async function failTimes(breaker: RedisCircuitBreaker, target: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) await breaker.failure(permitOf(await breaker.acquire(target)), unavailable());
  }

  beforeEach(() => {
    prefix = `${uniqueName('circuit')}:`;
    now = 1_700_000_000_000;
  });
  afterEach(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  });
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });

  it('opens after five consecutive retryable failures on one replica, and the other replica sees it open', async () => {
    const { lines, logger } = recordingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const a = replica({ logger, metrics });
    const b = replica();

    await failTimes(a, 'qdrant', 4);
    expect((await b.state('qdrant')).state).toBe('closed');
    expect(await b.acquire('qdrant')).toEqual({ allowed: true, target: 'qdrant', probe: false });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);

    await failTimes(a, 'qdrant', 1);
    now += 1_000;
    const refused = await b.acquire('qdrant');
    expect(refused).toMatchObject({ allowed: false, state: 'open', waitMs: OPEN_MS - 1_000 });
    expect(await b.state('qdrant')).toMatchObject({ state: 'open', waitMs: OPEN_MS - 1_000 });
    expect(await a.acquire('qdrant')).toMatchObject({ allowed: false, state: 'open' });

    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('circuit opened: 5 consecutive failures');
    expect(errors[0]!.details).toMatchObject({ target: 'qdrant', failures: 5 });
    expect(await metrics.registry.metrics()).toContain('ragsync_circuit_state{target="qdrant"} 2');
  });

  it('tells how long the circuit stays open after the report that opened it, a late answer while open, and a failed probe', async () => {
    const a = replica();
    const b = replica();
    const late = permitOf(await b.acquire('qdrant'));
    expect(a.openWait('qdrant')).toBe(0);
    await failTimes(a, 'qdrant', 4);
    expect(a.openWait('qdrant')).toBe(0);
    expect(await a.failure(permitOf(await a.acquire('qdrant')), unavailable())).toBe('open');
    expect(a.openWait('qdrant')).toBeGreaterThan(OPEN_MS - 1_000);
    // An answer to a call made before it opened: still open, for what is left of the open time.
    now += 100_000;
    expect(b.openWait('qdrant')).toBe(0);
    expect(await b.failure(late, unavailable())).toBe('open');
    expect(b.openWait('qdrant')).toBeGreaterThan(OPEN_MS - 100_000 - 1_000);
    expect(b.openWait('qdrant')).toBeLessThanOrEqual(OPEN_MS - 100_000);
    // Half-open: the probe fails, open again for the whole open time.
    now += OPEN_MS;
    const probe = permitOf(await b.acquire('qdrant'));
    expect(b.openWait('qdrant')).toBe(0);
    expect(await b.failure(probe, unavailable())).toBe('open');
    expect(b.openWait('qdrant')).toBeGreaterThan(OPEN_MS - 1_000);
  });

  it('counts failures across replicas, and a success on either one ends the run', async () => {
    const a = replica();
    const b = replica();
    await failTimes(a, 'shop', 2);
    await failTimes(b, 'shop', 2);
    await b.success(permitOf(await b.acquire('shop')));
    await failTimes(a, 'shop', 4);
    expect(await a.state('shop')).toMatchObject({ state: 'closed', failures: 4 });
    await failTimes(b, 'shop', 1);
    expect((await a.state('shop')).state).toBe('open');
  });

  it('counts only retryable errors: a permanent error ends the run, a system error changes nothing', async () => {
    const a = replica();
    await failTimes(a, 'shop', 4);
    await a.failure(permitOf(await a.acquire('shop')), new SystemError('401 from the shop', { code: 'unauthorized' }));
    await a.failure(permitOf(await a.acquire('shop')), new CircuitOpenError('shop', 1000));
    await a.failure(permitOf(await a.acquire('shop')), new Error('a bug of ours'));
    expect(await a.state('shop')).toMatchObject({ state: 'closed', failures: 4 });
    await a.failure(permitOf(await a.acquire('shop')), new PermanentError('400: bad document', { code: 'invalid_document' }));
    expect(await a.state('shop')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('lets only the allowed number of probes through across both replicas once the open time is over', async () => {
    const a = replica();
    const b = replica();
    await failTimes(a, 'qdrant', 5);
    now += OPEN_MS - 1;
    expect((await b.acquire('qdrant')).allowed).toBe(false);
    now += 1;
    expect((await b.state('qdrant')).state).toBe('half-open');

    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).acquire('qdrant')));
    const probes = answers.filter((x) => x.allowed);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ probe: true });
    for (const refused of answers.filter((x) => !x.allowed)) expect(refused).toMatchObject({ state: 'half-open', waitMs: 5_000 });
    expect(await a.state('qdrant')).toMatchObject({ state: 'half-open', probes: 1 });
  });

  it('allows as many probes as configured', async () => {
    const a = replica({ halfOpenProbes: 3 });
    const b = replica({ halfOpenProbes: 3 });
    await failTimes(a, 'qdrant', 5);
    now += OPEN_MS;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).acquire('qdrant')));
    expect(answers.filter((x) => x.allowed && x.probe)).toHaveLength(3);
  });

  it('closes on a probe success, for every replica, and logs it at error level', async () => {
    const { lines, logger } = recordingLogger();
    const metrics = createMetrics({ defaultMetrics: false });
    const a = replica();
    const b = replica({ logger, metrics });
    await failTimes(a, 'qdrant', 5);
    now += OPEN_MS;
    const probe = permitOf(await b.acquire('qdrant'));
    expect(await metrics.registry.metrics()).toContain('ragsync_circuit_state{target="qdrant"} 1');
    expect(await b.success(probe)).toBe('closed');
    expect(await a.acquire('qdrant')).toEqual({ allowed: true, target: 'qdrant', probe: false });
    expect(await a.state('qdrant')).toEqual({ target: 'qdrant', state: 'closed', failures: 0, waitMs: 0, probes: 0 });
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(['circuit closed: the probe to qdrant succeeded, calls resume']);
    expect(await metrics.registry.metrics()).toContain('ragsync_circuit_state{target="qdrant"} 0');
    // Nothing is left in Redis for a healthy target.
    expect(await admin.exists(a.key('qdrant'))).toBe(0);
  });

  it('opens again for the full open time when the probe fails', async () => {
    const a = replica();
    const b = replica();
    await failTimes(a, 'qdrant', 5);
    now += OPEN_MS;
    const probe = permitOf(await a.acquire('qdrant'));
    now += 2_000;
    expect(await a.failure(probe, unavailable())).toBe('open');
    expect(await b.acquire('qdrant')).toMatchObject({ allowed: false, state: 'open', waitMs: OPEN_MS });
  });

  it('lets a late answer to a call made before it opened neither close nor extend the circuit', async () => {
    const a = replica();
    const b = replica();
    const early = permitOf(await b.acquire('qdrant'));
    const earlier = permitOf(await b.acquire('qdrant'));
    await failTimes(a, 'qdrant', 5);
    now += 10_000;
    expect(await b.success(early)).toBe('open');
    expect(await b.failure(earlier, unavailable())).toBe('open');
    expect(await a.state('qdrant')).toMatchObject({ state: 'open', waitMs: OPEN_MS - 10_000 });
    now += OPEN_MS;
    permitOf(await a.acquire('qdrant'));
    expect(await b.success(early)).toBe('half-open');
  });

  it('frees the slot of a probe whose replica never reports, after the probe timeout', async () => {
    const a = replica({ probeTimeoutMs: 30_000 });
    const b = replica({ probeTimeoutMs: 30_000 });
    await failTimes(a, 'qdrant', 5);
    now += OPEN_MS;
    permitOf(await a.acquire('qdrant'));
    now += 29_999;
    expect(await b.acquire('qdrant')).toMatchObject({ allowed: false, waitMs: 1 });
    now += 1;
    expect(await b.acquire('qdrant')).toMatchObject({ allowed: true, probe: true });
  });

  it('frees the slot of a probe that ended in an error saying nothing about the target', async () => {
    const a = replica();
    await failTimes(a, 'qdrant', 5);
    now += OPEN_MS;
    const probe = permitOf(await a.acquire('qdrant'));
    expect(await a.failure(probe, new SystemError('401', { code: 'unauthorized' }))).toBe('half-open');
    expect(await a.acquire('qdrant')).toMatchObject({ allowed: true, probe: true });
  });

  it('keeps no key forever: every written state has a time to live', async () => {
    const a = replica({ idleTtlMs: 60_000 });
    await failTimes(a, 'qdrant', 2);
    const closedTtl = await admin.pttl(a.key('qdrant'));
    expect(closedTtl).toBeGreaterThan(55_000);
    expect(closedTtl).toBeLessThanOrEqual(60_000);
    await failTimes(a, 'qdrant', 3);
    const openTtl = await admin.pttl(a.key('qdrant'));
    expect(openTtl).toBeGreaterThan(OPEN_MS);
    expect(openTtl).toBeLessThanOrEqual(OPEN_MS + 60_000);
  });

  it('runs a call through `call`, and refuses with a retryable CircuitOpenError while open', async () => {
    const a = replica();
    for (let i = 0; i < 5; i++) await expect(a.call('shop', () => Promise.reject(unavailable()))).rejects.toThrow('503');
    let called = false;
    const refused = a.call('shop', async () => (called = true));
    await expect(refused).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(refused).rejects.toMatchObject({ code: 'circuit_open', errorClass: 'retryable', retryAfterMs: OPEN_MS });
    expect(called).toBe(false);
  });

  it("uses Redis's own clock when no clock is given", async () => {
    const a = replica({ clock: undefined, openMs: 60_000 });
    await failTimes(a, 'qdrant', 5);
    const refused = await a.acquire('qdrant');
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) {
      expect(refused.waitMs).toBeGreaterThan(50_000);
      expect(refused.waitMs).toBeLessThanOrEqual(60_000);
    }
  });

  describe('when Redis cannot be reached', () => {
    it('lets calls through (fails open) and warns', async () => {
      const { lines, logger } = recordingLogger();
      const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      const breaker = new RedisCircuitBreaker(redis, { keyPrefix: prefix, logger, redisTimeoutMs: 500 });
      const admission = await breaker.acquire('qdrant');
      expect(admission).toEqual({ allowed: true, target: 'qdrant', probe: false, degraded: true });
      expect(await breaker.failure(admission as CircuitPermit, unavailable())).toBeUndefined();
      expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
        'circuit breaker: Redis unavailable; calls go through (fail open)',
        'circuit breaker: Redis unavailable, outcome not recorded',
      ]);
      redis.disconnect();
    });

    it('takes a Redis that accepts the connection and never answers for one that is away, after the deadline', async () => {
      const silent = createServer((socket) => socket.on('data', () => undefined));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      const redis = createCoordinationRedis(`redis://127.0.0.1:${port}`);
      try {
        const breaker = new RedisCircuitBreaker(redis, { keyPrefix: prefix, redisTimeoutMs: 300 });
        const started = Date.now();
        expect(await breaker.acquire('qdrant')).toEqual({ allowed: true, target: 'qdrant', probe: false, degraded: true });
        expect(Date.now() - started).toBeGreaterThanOrEqual(290);
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        redis.disconnect();
        silent.close();
      }
    });

    it('keeps refusing a target it last saw open until that open time ends', async () => {
      const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      const breaker = new RedisCircuitBreaker(redis, { keyPrefix: prefix, clock, redisTimeoutMs: 500 });
      await failTimes(breaker, 'qdrant', 5);
      redis.disconnect();
      expect(await breaker.acquire('qdrant')).toMatchObject({ allowed: false, state: 'open' });
      expect(await breaker.acquire('other')).toMatchObject({ allowed: true, degraded: true });
    });
  });

  describe('when this process stalls past the Redis deadline', () => {
    it('still honours the answer Redis gave in time: an open circuit refuses, and nothing is taken for Redis being away', async () => {
      const { lines, logger } = recordingLogger();
      const a = replica();
      await failTimes(a, 'qdrant', 5);
      // The coordination client as the pipeline makes it, with a deadline far shorter than the stall.
      const redis = createCoordinationRedis(url);
      clients.push(redis);
      await redis.ping();
      // A replica that has not seen the circuit open yet: nothing of its own to fall back on.
      const b = new RedisCircuitBreaker(redis, { keyPrefix: prefix, clock, logger, redisTimeoutMs: 50 });
      now += OPEN_MS - 10_000;
      const pending = b.acquire('qdrant');
      // The event loop blocked for 1.5 s (a long collection, a starved CPU); Redis answered at once.
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        // busy
      }
      expect(await pending).toMatchObject({ allowed: false, state: 'open', waitMs: 10_000 });
      expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
    });
  });
});
