import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { APPLIED, type Sink, type SinkRecord, type SinkResult } from '../../../src/core/sink.js';
import { isolate, withRecordIsolation } from '../../../src/sinks/record-isolation.js';

const record = (key: string): SinkRecord<string> => ({ topic: 'things', key, value: key, sourceVersion: 1n, occurredAt: 0 });
const batch = (n: number) => Array.from({ length: n }, (_, i) => record(`k${i}`));

/** A target that applies a batch as one transaction and refuses it whole when any record is bad. */
function transactionalTarget(bad: ReadonlySet<string>, options: { downAt?: number } = {}) {
  const calls: string[][] = [];
  const applied: string[] = [];
  const write = async (records: readonly SinkRecord<string>[]): Promise<SinkResult[]> => {
    calls.push(records.map((r) => r.key));
    if (options.downAt !== undefined && calls.length >= options.downAt) throw new RetryableError('503 from the target', { code: 'down' });
    const refused = records.find((r) => bad.has(r.key));
    if (refused) throw new PermanentError(`400: point ${refused.key} has an invalid payload`, { code: 'rejected' });
    applied.push(...records.map((r) => r.key));
    return records.map(() => APPLIED);
  };
  return { calls, applied, write };
}

describe('record isolation', () => {
  it('makes one call when the target takes the batch', async () => {
    const target = transactionalTarget(new Set());
    expect(await isolate(batch(50), target.write)).toEqual(Array(50).fill(APPLIED));
    expect(target.calls).toHaveLength(1);
  });

  it('fails only the refused record, with the target reason, and applies the others in order', async () => {
    const target = transactionalTarget(new Set(['k17']));
    const results = await isolate(batch(50), target.write);
    expect(results.filter((r) => r.status === 'applied')).toHaveLength(49);
    expect(results[17]).toMatchObject({ status: 'failed', error: { code: 'rejected', message: '400: point k17 has an invalid payload' } });
    expect(target.applied).toEqual(batch(50).map((r) => r.key).filter((k) => k !== 'k17'));
  });

  it.each([1, 2, 3, 50, 500, 501])('needs at most 1 + 2·⌈log2 n⌉ calls for one bad record among %i', async (n) => {
    for (const position of [0, Math.floor(n / 2), n - 1]) {
      const target = transactionalTarget(new Set([`k${position}`]));
      const results = await isolate(batch(n), target.write);
      expect(results.filter((r) => r.status === 'failed')).toHaveLength(1);
      expect(target.calls.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(n)));
    }
  });

  it('never makes more than 2n − 1 calls, even when every record is refused', async () => {
    const target = transactionalTarget(new Set(batch(64).map((r) => r.key)));
    const results = await isolate(batch(64), target.write);
    expect(results.every((r) => r.status === 'failed')).toBe(true);
    expect(target.calls.length).toBe(2 * 64 - 1);
  });

  it('finds several refused records', async () => {
    const target = transactionalTarget(new Set(['k3', 'k4', 'k90']));
    const results = await isolate(batch(100), target.write);
    expect(results.flatMap((r, i) => (r.status === 'failed' ? [i] : []))).toEqual([3, 4, 90]);
  });

  it('does not split on an error that is not the records’: it ends the write with it', async () => {
    const target = transactionalTarget(new Set(['k1']), { downAt: 2 });
    await expect(isolate(batch(8), target.write)).rejects.toMatchObject({ code: 'down' });
    expect(target.calls).toHaveLength(2);
  });

  it('keeps the results the target gave each half', async () => {
    const sink: Sink<string> = {
      target: 'things',
      connect: async () => undefined,
      close: async () => undefined,
      write: async (records) => {
        if (records.some((r) => r.key === 'k2') && records.length > 1) throw new PermanentError('refused', { code: 'rejected' });
        return records.map((r) => (r.key === 'k0' ? { status: 'stale' as const } : APPLIED));
      },
    };
    const results = await withRecordIsolation(sink).write(batch(4));
    expect(results.map((r) => r.status)).toEqual(['stale', 'applied', 'applied', 'applied']);
  });

  it('returns nothing for an empty batch without calling the target', async () => {
    const target = transactionalTarget(new Set());
    expect(await isolate([], target.write)).toEqual([]);
    expect(target.calls).toHaveLength(0);
  });
});
