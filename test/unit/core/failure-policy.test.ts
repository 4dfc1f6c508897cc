import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { decide, decideFailure, DEFAULT_FAILURE_POLICY, type FailurePolicy } from '../../../src/core/failure-policy.js';
import { CircuitOpenError, NotDueError, RateLimitedError } from '../../../src/core/signals.js';

const policy: FailurePolicy = { ...DEFAULT_FAILURE_POLICY, maxAttempts: 4, backoff: { initialMs: 100, maxMs: 1_000 }, maxRetryAfterMs: 60_000, systemPauseMs: 30_000 };
const top = () => 1; // the top of the jitter range
const retryable = (retryAfterMs?: number) => new RetryableError('target unavailable', { code: 'http_503', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

describe('the failure policy', () => {
  it('dead-letters a permanent failure at once', () => {
    expect(decideFailure(new PermanentError('bad value', { code: 'schema_mismatch' }), 1, policy)).toEqual({ action: 'dead-letter', errorClass: 'permanent', reason: 'permanent' });
  });

  it('treats an unknown error as this record’s permanent failure', () => {
    expect(decideFailure(new TypeError('x is undefined'), 1, policy)).toMatchObject({ action: 'dead-letter', errorClass: 'permanent' });
  });

  it('pauses the whole stage on a system error and never dead-letters it, however often it fails', () => {
    expect(decideFailure(new SystemError('401', { code: 'unauthorized' }), 1, policy)).toEqual({ action: 'pause-stage', delayMs: 30_000, reason: 'system' });
    expect(decideFailure(new SystemError('401', { code: 'unauthorized' }), 99, policy)).toEqual({ action: 'pause-stage', delayMs: 30_000, reason: 'system' });
  });

  it('retries a retryable failure in place with growing, capped backoff', () => {
    expect(decideFailure(retryable(), 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 100, counted: true });
    expect(decideFailure(retryable(), 2, policy, top)).toEqual({ action: 'pause-partition', delayMs: 200, counted: true });
    expect(decideFailure(retryable(), 3, policy, top)).toEqual({ action: 'pause-partition', delayMs: 400, counted: true });
    const jittered = decideFailure(retryable(), 3, policy, () => 0);
    expect(jittered).toEqual({ action: 'pause-partition', delayMs: 200, counted: true });
  });

  it('waits at least as long as the target asked with Retry-After, up to the cap', () => {
    expect(decideFailure(retryable(3_000), 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 3_000, counted: true });
    expect(decideFailure(retryable(10), 3, policy, top)).toEqual({ action: 'pause-partition', delayMs: 400, counted: true });
    expect(decideFailure(retryable(3_600_000), 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 60_000, counted: true });
  });

  it('finds Retry-After on a retryable error wrapped as the cause of another', () => {
    const wrapped = new Error('call failed', { cause: retryable(5_000) });
    // An unclassified wrapper is still classified by the ragsync error in its cause chain.
    expect(decideFailure(wrapped, 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 5_000, counted: true });
  });

  it('dead-letters a retryable failure once the attempt limit is reached', () => {
    expect(decideFailure(retryable(), 3, policy, top).action).toBe('pause-partition');
    expect(decideFailure(retryable(), 4, policy, top)).toEqual({ action: 'dead-letter', errorClass: 'retryable', reason: 'attempts-exhausted' });
  });

  it('hands a retryable failure to the retry topics when the stage has them', () => {
    expect(decideFailure(retryable(), 1, { ...policy, retryTopics: true })).toEqual({ action: 'retry-topic', tier: 0 });
    expect(decideFailure(new PermanentError('bad', { code: 'x' }), 1, { ...policy, retryTopics: true }).action).toBe('dead-letter');
  });

  it('acknowledges a result that succeeded, and says when it was stale', () => {
    expect(decide({ ok: true, outputs: [] }, 1, policy)).toEqual({ action: 'ack', stale: false });
    expect(decide({ ok: true, outputs: [], stale: true }, 1, policy)).toEqual({ action: 'ack', stale: true });
    expect(decide({ ok: false, error: new PermanentError('bad', { code: 'x' }) }, 1, policy).action).toBe('dead-letter');
  });

  it('walks a terminal stage’s failures through each retry tier, then dead-letters them', () => {
    const tiers = { ...policy, retryTopics: true, retryTiers: 3 };
    expect(decideFailure(retryable(), 1, tiers)).toEqual({ action: 'retry-topic', tier: 0 });
    expect(decideFailure(retryable(), 2, tiers)).toEqual({ action: 'retry-topic', tier: 1 });
    expect(decideFailure(retryable(), 3, tiers)).toEqual({ action: 'retry-topic', tier: 2 });
    expect(decideFailure(retryable(), 4, tiers)).toEqual({ action: 'dead-letter', errorClass: 'retryable', reason: 'attempts-exhausted' });
    // The in-place attempt limit does not apply to a stage with retry topics.
    expect(decideFailure(retryable(), 2, { ...tiers, maxAttempts: 1 }).action).toBe('retry-topic');
  });

  it('dead-letters a retryable failure whose code the stage never retries, at the first failure', () => {
    const never = { ...policy, neverRetryCodes: ['http_503'] };
    expect(decideFailure(retryable(), 1, never)).toEqual({ action: 'dead-letter', errorClass: 'retryable', reason: 'never-retried' });
    expect(decideFailure(retryable(), 1, { ...never, retryTopics: true }).action).toBe('dead-letter');
    expect(decideFailure(new RetryableError('timeout', { code: 'timeout' }), 1, never).action).toBe('pause-partition');
  });

  it('ignores the target’s Retry-After when the policy says so', () => {
    expect(decideFailure(retryable(30_000), 1, { ...policy, honourRetryAfter: false }, top)).toEqual({ action: 'pause-partition', delayMs: 100, counted: true });
  });

  it('holds a partition until its head record is due, without counting an attempt, whatever the attempt', () => {
    const now = 1_000_000;
    expect(decideFailure(new NotDueError(now + 4_000, now), 1, policy)).toEqual({ action: 'pause-partition', delayMs: 4_000, counted: false });
    expect(decideFailure(new NotDueError(now + 4_000, now), 99, { ...policy, retryTopics: true })).toEqual({ action: 'pause-partition', delayMs: 4_000, counted: false });
  });

  it('pauses the whole stage while the target’s circuit is open, for the breaker’s wait, never dead-lettering', () => {
    expect(decideFailure(new CircuitOpenError('qdrant', 20_000), 1, policy)).toEqual({ action: 'pause-stage', delayMs: 20_000, reason: 'target-down' });
    expect(decideFailure(new CircuitOpenError('qdrant', 20_000), 99, { ...policy, retryTopics: true })).toEqual({ action: 'pause-stage', delayMs: 20_000, reason: 'target-down' });
    expect(decideFailure(new CircuitOpenError('qdrant', 99 * 3_600_000), 1, policy)).toEqual({ action: 'pause-stage', delayMs: 60_000, reason: 'target-down' });
  });

  it('pauses the whole stage while an endpoint’s rate limit is spent, at least 100 ms', () => {
    expect(decideFailure(new RateLimitedError('shop', 30_000, 'blocked'), 1, policy)).toEqual({ action: 'pause-stage', delayMs: 30_000, reason: 'rate-limited' });
    expect(decideFailure(new RateLimitedError('shop', 0, 'rate'), 1, policy)).toEqual({ action: 'pause-stage', delayMs: 100, reason: 'rate-limited' });
    // Wrapped as the cause of another error, still a signal.
    expect(decideFailure(new Error('push failed', { cause: new RateLimitedError('shop', 5_000, 'rate') }), 1, policy)).toMatchObject({ action: 'pause-stage', reason: 'rate-limited' });
  });
});
