import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { CircuitOpenError, RateLimitedError } from '../../../src/core/signals.js';
import { APPLIED, failed, STALE } from '../../../src/core/sink.js';
import { batchHealth, targetWait } from '../../../src/sinks/batch-outcome.js';

const down = (retryAfterMs?: number) => new RetryableError('503', { code: 'down', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
const refused = new PermanentError('400', { code: 'rejected' });

describe('what a batch says about its target', () => {
  it('counts a batch the target answered for any record as a success', () => {
    expect(batchHealth([failed(down()), APPLIED])).toBe('success');
    expect(batchHealth([failed(down()), STALE])).toBe('success');
    expect(batchHealth([failed(down()), failed(refused)])).toBe('success');
  });

  it('counts a batch whose records all failed, one retryably at least, as one failure', () => {
    expect(batchHealth([failed(down()), failed(down())])).toBe('failure');
    expect(batchHealth([failed(down()), failed(new SystemError('401', { code: 'x' }))])).toBe('failure');
  });

  it('counts our own signals, system errors, bugs and an empty batch as neither', () => {
    expect(batchHealth([])).toBe('neutral');
    expect(batchHealth([failed(new CircuitOpenError('t', 10)), failed(new RateLimitedError('t', 10, 'rate'))])).toBe('neutral');
    expect(batchHealth([failed(new SystemError('401', { code: 'x' })), failed(new Error('a bug'))])).toBe('neutral');
  });

  it('finds through `cause` chains', () => {
    expect(batchHealth([failed(new Error('wrapped', { cause: down() }))])).toBe('failure');
  });
});

describe("the target's own wait", () => {
  it('is the longest Retry-After among the errors', () => {
    expect(targetWait([down(2000), down(), down(5000), refused])).toBe(5000);
  });

  it('is none when no error names one, and never one of our signals', () => {
    expect(targetWait([down(), refused, undefined])).toBeUndefined();
    expect(targetWait([new RateLimitedError('t', 3000, 'blocked'), new CircuitOpenError('t', 60_000)])).toBeUndefined();
    expect(targetWait([down(0), down(Number.NaN)])).toBeUndefined();
  });
});
