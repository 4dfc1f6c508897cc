import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { HEADERS } from '../../../src/core/records.js';
import { NotDueError } from '../../../src/core/signals.js';
import type { InputRecord, StageDefinition } from '../../../src/core/stage.js';
import { dlqMessage, type FailedRecord } from '../../../src/kafka/dlq.js';
import { createRetryStage, parseRetryHeaders, retryConsumerOptions, retryFetchWaitMs, retryGroupName, retryMessage, withRetryDue } from '../../../src/kafka/retry-topics.js';

const now = Date.parse('2026-03-01T10:00:00.000Z');
const failure = new RetryableError('qdrant answered 503', { code: 'http_503' });

const failed = (overrides: Partial<FailedRecord> = {}): FailedRecord => ({
  topic: 'ragsync.vectors',
  partition: 4,
  offset: '1200',
  key: Buffer.from('acme/product/42/1'),
  value: Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]),
  headers: { [HEADERS.correlationId]: 'c-1', [HEADERS.attempt]: '1' },
  ...overrides,
});

const tier = (index: number, delayMs: number) => ({ topic: `ragsync.store.retry.${delayMs / 1000}s`, tier: index, delayMs });

describe('a retry record', () => {
  it('keeps the key, the value bytes and the original headers, and says where, why and until when', () => {
    const message = retryMessage('store', failed(), failure, 'retryable', tier(0, 2_000), now);
    expect(message.topic).toBe('ragsync.store.retry.2s');
    expect(message.key).toEqual(Buffer.from('acme/product/42/1'));
    expect(message.value).toEqual(Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]));
    expect(message.headers).toEqual({
      [HEADERS.correlationId]: 'c-1',
      [HEADERS.stage]: 'store',
      [HEADERS.origTopic]: 'ragsync.vectors',
      [HEADERS.origPartition]: '4',
      [HEADERS.origOffset]: '1200',
      [HEADERS.attempt]: '1',
      [HEADERS.errorClass]: 'retryable',
      [HEADERS.errorCode]: 'http_503',
      [HEADERS.errorMessage]: 'qdrant answered 503',
      [HEADERS.firstFailureAt]: '2026-03-01T10:00:00.000Z',
      [HEADERS.dueAt]: '2026-03-01T10:00:02.000Z',
      [HEADERS.retryTier]: '0',
    });
  });

  it('stays a tombstone, with the version headers it came with', () => {
    const tombstone = failed({ value: null, headers: { [HEADERS.sourceVersion]: '17', [HEADERS.occurredAt]: '1700000000000', [HEADERS.attempt]: '1' } });
    const message = retryMessage('store', tombstone, failure, 'retryable', tier(0, 2_000), now);
    expect(message.value).toBeNull();
    expect(message.headers).toMatchObject({ [HEADERS.sourceVersion]: '17', [HEADERS.occurredAt]: '1700000000000' });
  });

  it('keeps the first failure’s time when it moves to the next tier, and gets a new due time', () => {
    const first = retryMessage('store', failed(), failure, 'retryable', tier(0, 2_000), now);
    const headers = first.headers as Record<string, string>;
    const again = retryMessage('store.retry', failed({ headers: { ...headers, [HEADERS.attempt]: '2' } }), failure, 'retryable', tier(1, 4_000), now + 2_100);
    expect(again.headers).toMatchObject({
      [HEADERS.firstFailureAt]: '2026-03-01T10:00:00.000Z',
      [HEADERS.dueAt]: '2026-03-01T10:00:06.100Z',
      [HEADERS.retryTier]: '1',
      [HEADERS.attempt]: '2',
      [HEADERS.origOffset]: '1200',
    });
  });

  it('reads back as its origin, attempts so far, tier and due time', () => {
    const message = retryMessage('store', failed(), failure, 'retryable', tier(0, 2_000), now);
    expect(parseRetryHeaders(message.headers as Record<string, string>)).toEqual({
      origin: { topic: 'ragsync.vectors', partition: 4, offset: '1200', failures: 1 },
      tier: 0,
      dueAt: now + 2_000,
    });
  });

  it.each([HEADERS.origTopic, HEADERS.origPartition, HEADERS.origOffset, HEADERS.attempt, HEADERS.retryTier, HEADERS.dueAt])('is refused as permanent without a valid %s', (name) => {
    const headers = { ...(retryMessage('store', failed(), failure, 'retryable', tier(0, 2_000), now).headers as Record<string, string>) };
    delete headers[name];
    expect(() => parseRetryHeaders(headers)).toThrow(PermanentError);
    expect(() => parseRetryHeaders({ ...headers, [name]: name === HEADERS.origTopic ? '' : 'soon' })).toThrow(name);
  });

  it('leaves its due time and tier behind when it is dead-lettered', () => {
    const message = retryMessage('store', failed(), failure, 'retryable', tier(2, 8_000), now);
    const dead = dlqMessage('store.retry', failed({ headers: { ...(message.headers as Record<string, string>), [HEADERS.attempt]: '4' } }), failure, 'retryable', { now: now + 9_000 });
    expect(dead.headers).not.toHaveProperty(HEADERS.dueAt);
    expect(dead.headers).not.toHaveProperty(HEADERS.retryTier);
    expect(dead.headers).toMatchObject({ [HEADERS.attempt]: '4', [HEADERS.origOffset]: '1200', [HEADERS.firstFailureAt]: '2026-03-01T10:00:00.000Z' });
  });
});

describe('the retry stage of a terminal stage', () => {
  const seen: string[][] = [];
  const target: StageDefinition = {
    name: 'store',
    group: 'store',
    inputs: ['vectors'],
    terminal: true,
    coPartitioned: true,
    async process(records) {
      seen.push(records.map((r) => r.key));
      return records.map(() => ({ ok: true as const, outputs: [] }));
    },
  };
  const record = (key: string, dueAt: number): InputRecord => ({
    topic: 'vectors',
    partition: 0,
    offset: '1',
    key,
    value: null,
    headers: { [HEADERS.dueAt]: new Date(dueAt).toISOString(), [HEADERS.origTopic]: 'ragsync.vectors', [HEADERS.origPartition]: '0', [HEADERS.origOffset]: '1', [HEADERS.attempt]: '1', [HEADERS.retryTier]: '0' },
    sourceVersion: 1n,
    occurredAt: 0,
  });
  const context = { heartbeat: async () => undefined, isStale: () => false };

  it('reads every tier of the stage’s group in a group of its own, forwards to the due topic, and fails into the stage’s DLQ and tiers', () => {
    const retry = createRetryStage(target, { delaysMs: [2_000, 300_000] });
    expect(retry).toMatchObject({ name: 'store.retry', group: 'store.retry', failureGroup: 'store', inputs: ['store.retry.2s', 'store.retry.5m'], output: 'store.retry.due', terminal: true, coPartitioned: true });
    expect(retryGroupName('store')).toBe('store.retry');
  });

  it('forwards the due records unchanged to the due topic, never calling the stage, and stops at the first one not due', async () => {
    seen.length = 0;
    const retry = createRetryStage(target, { delaysMs: [2_000], now: () => now });
    const raw = Buffer.from([0, 0, 0, 0, 7, 1, 2]);
    const results = await retry.process([{ ...record('a', now - 10), raw }, record('b', now), record('c', now + 1_500), record('d', now - 5)], context);
    expect(seen).toEqual([]);
    expect(results[0]).toEqual({ ok: true, outputs: [{ topic: 'store.retry.due', key: 'a', value: null, rawValue: raw, headers: record('a', now - 10).headers, sourceVersion: 1n, occurredAt: 0 }] });
    expect(results[1]).toMatchObject({ ok: true, outputs: [{ topic: 'store.retry.due', key: 'b', rawValue: null }] });
    for (const result of results.slice(2)) {
      expect(result.ok).toBe(false);
      const error = (result as { error: NotDueError }).error;
      expect(error).toBeInstanceOf(NotDueError);
      expect(error.retryAfterMs).toBe(1_500);
    }
  });

  it('dead-letters a copy whose headers do not say when it is due', async () => {
    const retry = createRetryStage(target, { delaysMs: [2_000], now: () => now });
    const broken = record('a', now);
    delete broken.headers[HEADERS.dueAt];
    const [result] = await retry.process([broken], context);
    expect((result as { error: { code: string } }).error.code).toBe('invalid_retry_headers');
  });

  it('says where a record was first read, from its headers', () => {
    const retry = createRetryStage(target, { delaysMs: [2_000] });
    expect(retry.origin!(record('a', now).headers, 'store.retry.2s')).toEqual({ topic: 'ragsync.vectors', partition: 0, offset: '1', failures: 1 });
  });

  it('has the stage read its due topic as retry copies and its other inputs as its own', () => {
    const stage = withRetryDue(target);
    expect(stage.inputs).toEqual([...target.inputs, 'store.retry.due']);
    expect(stage.origin!(record('a', now).headers, 'store.retry.due')).toEqual({ topic: 'ragsync.vectors', partition: 0, offset: '1', failures: 1 });
    expect(stage.origin!({}, 'vectors')).toBeUndefined();
    expect(() => stage.origin!({}, 'store.retry.due')).toThrow(/retry record without a valid header/);
    expect(withRetryDue(stage).inputs).toEqual(stage.inputs);
  });

  it('refuses to wrap a stage that is not terminal', () => {
    expect(() => createRetryStage({ ...target, terminal: false }, { delaysMs: [2_000] })).toThrow(/not terminal/);
  });
});

describe('the retry consumer’s fetch wait', () => {
  it('is a fortieth of the shortest delay, between 20 and 500 ms', () => {
    expect(retryFetchWaitMs([2_000, 4_000])).toBe(50);
    expect(retryFetchWaitMs([300_000, 900_000, 3_600_000])).toBe(500);
    expect(retryFetchWaitMs([100])).toBe(20);
    expect(retryConsumerOptions({ delaysMs: [2_000, 4_000] })).toEqual({ retry: { delaysMs: [2_000, 4_000] }, fetch: { maxWaitTimeInMs: 50 } });
  });
});
