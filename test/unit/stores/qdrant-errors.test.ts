import { describe, expect, it } from 'vitest';
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
});
