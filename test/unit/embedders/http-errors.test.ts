import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { classifyHttpStatus, parseRetryAfter } from '../../../src/embedders/http-errors.js';

const context = { what: 'embedding endpoint http://127.0.0.1/v1/embeddings', redact: (t: string) => t.split('secret').join('***') };
const classify = (status: number, body?: object, headers: Record<string, string> = {}) => classifyHttpStatus(status, new Headers(headers), body, context);

describe('Retry-After', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
  });
  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('Sun, 22 Nov 2026 08:00:00 GMT');
    expect(parseRetryAfter('Sun, 22 Nov 2026 08:01:30 GMT', now)).toBe(90_000);
  });
  it('never waits a negative time for a date in the past', () => {
    expect(parseRetryAfter('Sun, 22 Nov 2020 08:00:00 GMT')).toBe(0);
  });
  it('ignores a missing or unreadable value', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('classifying an HTTP status', () => {
  it('makes outages retryable', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(classify(status)).toBeInstanceOf(RetryableError);
    expect((classify(503, undefined, { 'retry-after': '5' }) as RetryableError).retryAfterMs).toBe(5000);
  });
  it('makes authentication and unknown models system errors', () => {
    expect(classify(401)).toBeInstanceOf(SystemError);
    expect(classify(403)).toBeInstanceOf(SystemError);
    expect(classify(404)).toBeInstanceOf(SystemError);
    expect(classify(400, { code: 'model_not_found' })).toBeInstanceOf(SystemError);
    expect(classify(400, { param: 'dimensions', message: 'not supported' })).toBeInstanceOf(SystemError);
  });
  it('makes a refusal of the input permanent', () => {
    expect(classify(400, { message: 'input too long', param: 'input' })).toBeInstanceOf(PermanentError);
    expect(classify(413)).toBeInstanceOf(PermanentError);
    expect(classify(422)).toBeInstanceOf(PermanentError);
  });
  it('redacts secrets from what the server said', () => {
    const error = classify(401, { message: 'bad key secret' });
    expect(error.message).toContain('bad key ***');
    expect(error.message).not.toContain('secret');
  });
});
