import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { breakerOutcome } from '../../../src/coordination/breaker-outcome.js';
import { CIRCUIT_BREAKER_DEFAULTS, RedisCircuitBreaker } from '../../../src/coordination/circuit-breaker.js';
import { CircuitOpenError, RateLimitedError } from '../../../src/coordination/errors.js';
import { RedisRateLimiter } from '../../../src/coordination/rate-limiter.js';
import { classify, PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';

describe('what an error says about its target, for the circuit breaker', () => {
  it.each([
    ['a retryable error from the target', new RetryableError('503', { code: 'target_unavailable' }), 'failure'],
    ['a retryable error wrapped as a cause', new Error('batch failed', { cause: new RetryableError('timeout', { code: 'timeout' }) }), 'failure'],
    ['a permanent error: the target answered about one record', new PermanentError('400', { code: 'invalid_document' }), 'success'],
    ['a system error: the stage pauses anyway', new SystemError('401', { code: 'unauthorized' }), 'neutral'],
    ['an unclassified error: our bug', new TypeError('x is undefined'), 'neutral'],
    ["the breaker's own refusal: no call was made", new CircuitOpenError('qdrant', 1000), 'neutral'],
    ["the limiter's refusal: no call was made", new RateLimitedError('embeddings', 1000, 'rate'), 'neutral'],
  ])('%s → %s', (_, error, outcome) => {
    expect(breakerOutcome(error)).toBe(outcome);
  });
});

describe('the control signals', () => {
  it('are retryable with the computed wait as Retry-After, so the failure policy pauses at least that long', () => {
    const open = new CircuitOpenError('qdrant', 90_500);
    expect(classify(open)).toBe('retryable');
    expect(open).toMatchObject({ code: 'circuit_open', retryAfterMs: 90_500, target: 'qdrant' });
    expect(open.message).toBe('the circuit of qdrant is open: no call for 91 s');
    const limited = new RateLimitedError('shop-api', 1_200, 'blocked');
    expect(classify(limited)).toBe('retryable');
    expect(limited).toMatchObject({ code: 'rate_limited', retryAfterMs: 1_200, endpoint: 'shop-api' });
    expect(limited.message).toBe('shop-api: the endpoint asked for a pause (Retry-After); next call in 1200 ms');
  });
});

describe('the options of the breaker and the limiter', () => {
  // A client that never connects: the constructors only define scripts on it.
  const redis = new Redis({ lazyConnect: true });

  it.each([{ failureThreshold: 0 }, { openMs: -1 }, { halfOpenProbes: 1.5 }, { probeTimeoutMs: Number.NaN }])('refuse the breaker option %j', (bad) => {
    expect(() => new RedisCircuitBreaker(redis, { keyPrefix: 'p:', ...bad })).toThrow(RangeError);
  });

  it('default to the plan: 5 failures, 5 minutes open, one probe', () => {
    expect(CIRCUIT_BREAKER_DEFAULTS).toMatchObject({ failureThreshold: 5, openMs: 300_000, halfOpenProbes: 1 });
    // An option given as undefined keeps its default instead of failing the check.
    expect(() => new RedisCircuitBreaker(redis, { keyPrefix: 'p:', failureThreshold: undefined })).not.toThrow();
  });

  it.each([{ ratePerSecond: 0, burst: 1 }, { ratePerSecond: 5, burst: 0 }, { ratePerSecond: Infinity, burst: 1 }])('refuse the limit %j', (limit) => {
    expect(() => new RedisRateLimiter(redis, { keyPrefix: 'p:', limits: { api: limit } })).toThrow(RangeError);
    expect(() => new RedisRateLimiter(redis, { keyPrefix: 'p:', defaultLimit: limit })).toThrow(RangeError);
  });

  it('name their keys under the configured prefix', () => {
    expect(new RedisCircuitBreaker(redis, { keyPrefix: 'ragsync:' }).key('qdrant')).toBe('ragsync:circuit:qdrant');
    expect(new RedisRateLimiter(redis, { keyPrefix: 'ragsync:' }).key('embeddings')).toBe('ragsync:ratelimit:embeddings');
  });
});
