import { describe, expect, it } from 'vitest';
import { compare, type StoreContents } from '../../faults/support/verify.js';
import { formatTable } from '../../faults/support/summary.js';
import type { ExpectedDoc } from '../../faults/support/workload.js';
import { workload } from '../../faults/support/workload.js';

const expected = new Map<string, ExpectedDoc>([
  ['t/product/A/1', { docKey: 't/product/A/1', version: 3n, deleted: false, title: 'A v3' }],
  ['t/product/B/1', { docKey: 't/product/B/1', version: 2n, deleted: true }],
]);

function contents(heads: Array<[string, bigint, boolean]>, points: Array<[string, string, string, number]>): StoreContents {
  const result: StoreContents = { heads: new Map(), points: new Map() };
  for (const [key, version, deleted] of heads) result.heads.set(key, { version, deleted });
  for (const [key, id, title, chunkIndex] of points) result.points.set(key, [...(result.points.get(key) ?? []), { id, title, chunkIndex }]);
  return result;
}

describe('the fault suite compares the store with the expected state', () => {
  it('finds nothing wrong in a store that holds it exactly', () => {
    expect(compare(contents([['t/product/A/1', 3n, false], ['t/product/B/1', 2n, true]], [['t/product/A/1', 'a0', 'A v3', 0]]), expected)).toEqual({ lost: [], stale: [], duplicates: 0, unexpected: [] });
  });

  it('counts an older version as lost, a deleted document with points as stale, a point twice as a duplicate', () => {
    const drift = compare(contents([['t/product/A/1', 2n, false], ['t/product/B/1', 1n, false]], [['t/product/A/1', 'a0', 'A v2', 0], ['t/product/A/1', 'a0', 'A v2', 0], ['t/product/B/1', 'b0', 'B v1', 0], ['t/product/C/1', 'c0', 'C', 0]]), expected);
    expect(drift.lost).toEqual(['t/product/A/1']);
    expect(drift.stale).toEqual(['t/product/B/1']);
    expect(drift.duplicates).toBe(2);
    expect(drift.unexpected).toEqual(['t/product/C/1']);
  });

  it('counts the right version with another content as stale', () => {
    expect(compare(contents([['t/product/A/1', 3n, false], ['t/product/B/1', 2n, true]], [['t/product/A/1', 'a0', 'A v2', 0]]), expected).stale).toEqual(['t/product/A/1']);
  });

  it('draws the same workload from the same seed, versions increasing per key, the last event deciding', () => {
    const a = workload({ tenant: 't', seed: 3, keys: 10, events: 200 });
    const b = workload({ tenant: 't', seed: 3, keys: 10, events: 200 });
    expect(a.lines).toEqual(b.lines);
    const last = new Map<string, number>();
    for (const line of a.lines) {
      expect(Number(line.source_version)).toBe((last.get(line.id) ?? 0) + 1);
      last.set(line.id, Number(line.source_version));
    }
    for (const [key, doc] of a.expected) expect(doc.version).toBe(BigInt(last.get(key.split('/')[2]!)!));
    expect(formatTable([{ test: 'x', events: 1, faults: 'none', lost: 0, stale: 0, duplicates: 0, recoverySeconds: 1.25 }])).toContain('| x    | 1      | none            | 0    | 0     | 0          | 1.3 s           |');
  });
});
