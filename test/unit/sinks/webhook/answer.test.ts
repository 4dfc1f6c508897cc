import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, SystemError } from '../../../../src/core/errors.js';
import { classifyAnswer, retryAfterMs } from '../../../../src/sinks/webhook/answer.js';

const NOW = Date.UTC(2026, 2, 4, 9, 0, 0);
const classify = (status: number, body: unknown, retryAfter: string | null = null, items = 3) =>
  classifyAnswer('webhook receiver r (https://rag.example.com/batch)', status, retryAfter, typeof body === 'string' ? body : JSON.stringify(body), items, NOW);

describe('a receiver\'s answer', () => {
  it('applies every item of a 2xx and names the items it rejected', () => {
    const answer = classify(202, { accepted: 2, rejected: [{ index: 1, type: 'product', id: '9', fields: [{ path: 'data.name', message: 'is required' }] }, { index: 7 }] });
    expect(answer).toEqual({ kind: 'applied', rejected: new Map([[1, 'data.name is required']]) });
  });

  it('reads a 2xx with a body that is not JSON as applied', () => {
    expect(classify(200, 'OK')).toEqual({ kind: 'applied', rejected: new Map() });
  });

  it.each([408, 429, 500, 502, 503])('makes %i retryable with the Retry-After', (status) => {
    const answer = classify(status, { error: 'busy' }, '12');
    expect(answer.kind).toBe('error');
    const error = (answer as { error: RetryableError }).error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.retryAfterMs).toBe(12_000);
  });

  it.each([401, 403, 404])('makes %i a SystemError', (status) => {
    expect((classify(status, { error: 'invalid_signature', message: 'no' }) as { error: unknown }).error).toBeInstanceOf(SystemError);
  });

  it('names the refused items of a 400 that lists them', () => {
    const answer = classify(400, { error: 'validation_failed', fields: [], items: [{ index: 0, fields: [{ path: 'data.price', message: 'expected a number' }] }] });
    expect(answer.kind).toBe('refused');
    expect((answer as { named: Map<number, string> }).named).toEqual(new Map([[0, 'data.price expected a number']]));
  });

  it('refuses the batch as a whole for a 4xx that names no item', () => {
    const answer = classify(413, 'Payload Too Large');
    expect(answer.kind).toBe('refused');
    expect((answer as { named: Map<number, string> }).named.size).toBe(0);
    expect((answer as { error: Error }).error).toBeInstanceOf(PermanentError);
    expect((answer as { error: Error }).error.message).toBe('webhook receiver r (https://rag.example.com/batch) refused the batch (413: Payload Too Large)');
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    expect(retryAfterMs('30', NOW)).toBe(30_000);
    expect(retryAfterMs(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(retryAfterMs('soon', NOW)).toBeUndefined();
    expect(retryAfterMs(null, NOW)).toBeUndefined();
  });
});
