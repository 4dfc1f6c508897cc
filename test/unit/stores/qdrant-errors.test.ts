import { describe, expect, it } from 'vitest';
import type { RetryableError } from '../../../src/core/errors.js';
import { classifyQdrantError } from '../../../src/stores/qdrant/errors.js';

const httpError = (status: number, reason: string) =>
  Object.assign(new Error(reason), { status, data: { status: { error: reason } }, headers: new Headers({ 'retry-after': '2' }) });

describe('classifying Qdrant failures', () => {
  it.each([
    [401, 'Must provide an API key', 'system', 'qdrant_unauthorized'],
    [403, 'Forbidden', 'system', 'qdrant_unauthorized'],
    [404, 'Not found: Collection `x` does not exist!', 'system', 'qdrant_collection_missing'],
    [400, 'Wrong input: Vector dimension error: expected dim: 8, got 16', 'system', 'store_dimension_mismatch'],
    [400, 'Format error in JSON body', 'permanent', 'qdrant_rejected'],
    [422, 'Unprocessable', 'permanent', 'qdrant_rejected'],
    [500, 'Service internal error', 'retryable', 'qdrant_server_error'],
    [503, 'Unavailable', 'retryable', 'qdrant_server_error'],
    [429, 'Too many requests', 'retryable', 'qdrant_rate_limited'],
  ])('treats HTTP %i (%s) as %s', (status, reason, errorClass, code) => {
    const error = classifyQdrantError(httpError(status, reason), 'upsert points');
    expect(error).toMatchObject({ errorClass, code });
    expect(error.message).toContain('upsert points');
  });

  it('keeps the wait a 429 asks for', () => {
    expect(classifyQdrantError(httpError(429, 'slow down'), 'x')).toMatchObject({ retryAfterMs: 2000 });
  });

  it('treats a network failure and a timeout as retryable', () => {
    expect(classifyQdrantError(new TypeError('fetch failed'), 'x').errorClass).toBe('retryable');
    const timeout = Object.assign(new Error('aborted'), { name: 'QdrantClientTimeoutError' });
    expect(classifyQdrantError(timeout, 'x')).toMatchObject({ errorClass: 'retryable', code: 'qdrant_timeout' });
  });
  describe('when the server names a wait', () => {
    const withHeaders = (status: number, reason: string, headers: Record<string, string>) =>
      Object.assign(new Error(reason), { status, data: { status: { error: reason } }, headers: new Headers(headers) });

    it('keeps a 503 Retry-After too', () => {
      expect(classifyQdrantError(withHeaders(503, 'Unavailable', { 'retry-after': '7' }), 'x')).toMatchObject({ code: 'qdrant_server_error', retryAfterMs: 7000 });
      expect(classifyQdrantError(withHeaders(503, 'Unavailable', {}), 'x')).toMatchObject({ retryAfterMs: undefined });
    });

    it('reads a Retry-After given as an HTTP date', () => {
      const error = classifyQdrantError(withHeaders(429, 'slow down', { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }), 'x');
      const wait = (error as RetryableError).retryAfterMs;
      expect(wait).toBeGreaterThan(58_000);
      expect(wait).toBeLessThanOrEqual(60_000);
    });

    it("reads Qdrant's own \"Retry after Ns\" when the header is missing", () => {
      const reason = 'Rate limiting exceeded: Write rate limit exceeded: Operation requires 1 tokens but only 0.0 were available. Retry after 12s';
      expect(classifyQdrantError(withHeaders(429, reason, {}), 'x')).toMatchObject({ code: 'qdrant_rate_limited', retryAfterMs: 12_000 });
    });

    it("takes the client's own 429 error with its retry_after", () => {
      const exhausted = Object.assign(new Error('Too Many Requests'), { name: 'QdrantClientResourceExhaustedError', retry_after: 4 });
      expect(classifyQdrantError(exhausted, 'x')).toMatchObject({ errorClass: 'retryable', code: 'qdrant_rate_limited', retryAfterMs: 4000 });
    });
  });
});
