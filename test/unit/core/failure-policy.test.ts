import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { decideFailure, DEFAULT_FAILURE_POLICY, type FailurePolicy } from '../../../src/core/failure-policy.js';

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
    expect(decideFailure(new SystemError('401', { code: 'unauthorized' }), 1, policy)).toEqual({ action: 'pause-stage', delayMs: 30_000 });
    expect(decideFailure(new SystemError('401', { code: 'unauthorized' }), 99, policy)).toEqual({ action: 'pause-stage', delayMs: 30_000 });
  });

  it('retries a retryable failure in place with growing, capped backoff', () => {
    expect(decideFailure(retryable(), 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 100 });
    expect(decideFailure(retryable(), 2, policy, top)).toEqual({ action: 'pause-partition', delayMs: 200 });
    expect(decideFailure(retryable(), 3, policy, top)).toEqual({ action: 'pause-partition', delayMs: 400 });
    const jittered = decideFailure(retryable(), 3, policy, () => 0);
    expect(jittered).toEqual({ action: 'pause-partition', delayMs: 200 });
  });

  it('waits at least as long as the target asked with Retry-After, up to the cap', () => {
    expect(decideFailure(retryable(3_000), 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 3_000 });
    expect(decideFailure(retryable(10), 3, policy, top)).toEqual({ action: 'pause-partition', delayMs: 400 });
    expect(decideFailure(retryable(3_600_000), 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 60_000 });
  });

  it('finds Retry-After on a retryable error wrapped as the cause of another', () => {
    const wrapped = new Error('call failed', { cause: retryable(5_000) });
    // An unclassified wrapper is still classified by the ragsync error in its cause chain.
    expect(decideFailure(wrapped, 1, policy, top)).toEqual({ action: 'pause-partition', delayMs: 5_000 });
  });

  it('dead-letters a retryable failure once the attempt limit is reached', () => {
    expect(decideFailure(retryable(), 3, policy, top).action).toBe('pause-partition');
    expect(decideFailure(retryable(), 4, policy, top)).toEqual({ action: 'dead-letter', errorClass: 'retryable', reason: 'attempts-exhausted' });
  });

  it('hands a retryable failure to the retry topics when the stage has them', () => {
    expect(decideFailure(retryable(), 1, { ...policy, retryTopics: true })).toEqual({ action: 'retry-topic' });
    expect(decideFailure(new PermanentError('bad', { code: 'x' }), 1, { ...policy, retryTopics: true }).action).toBe('dead-letter');
  });
});
