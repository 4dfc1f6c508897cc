import { describe, expect, it } from 'vitest';
import { decodeMark, encodeMark, MarkIndex, purgeMarkRef, type DlqMark } from '../../../src/kafka/dlq-marks.js';

const replayed: DlqMark = { state: 'replayed', at: '2024-05-01T00:00:00.000Z', deadLetteredAt: 1_000, to: { topic: 'ragsync.store.retry.5m', partition: 0, offset: '3', via: 'retry' } };

describe('a DLQ mark', () => {
  it('round-trips as JSON', () => {
    expect(decodeMark(encodeMark(replayed))).toEqual(replayed);
    expect(JSON.parse(encodeMark({ state: 'purged', at: 'x', before: 'y' }).toString())).toEqual({ state: 'purged', at: 'x', before: 'y' });
  });

  it.each([[null], [Buffer.alloc(0)], [Buffer.from('not json')], [Buffer.from('{"state":"done","at":"x"}')], [Buffer.from('{"state":"replayed"}')]])('reads %j as no mark', (bytes) => {
    expect(decodeMark(bytes)).toBeUndefined();
  });
});

describe('the marks of DLQ records', () => {
  it('knows a record replayed, but not another record a recreated topic put at the same offset', () => {
    const index = new MarkIndex();
    index.set('store:0:7', replayed);
    expect(index.replayed({ ref: 'store:0:7', timestamp: 1_000 })).toEqual(replayed);
    expect(index.replayed({ ref: 'store:0:7', timestamp: 2_000 })).toBeUndefined();
    expect(index.replayed({ ref: 'store:0:8', timestamp: 1_000 })).toBeUndefined();
  });

  it('forgets a mark on a tombstone', () => {
    const index = new MarkIndex();
    index.set('store:0:7', replayed);
    index.set('store:0:7', undefined);
    expect(index.size).toBe(0);
  });

  it('counts purged records from the purge mark of each partition, not from a topic created again since', () => {
    const index = new MarkIndex();
    index.set(purgeMarkRef('store', 0), { state: 'purged', at: 'x', upTo: '2', total: 2 });
    index.set(purgeMarkRef('store', 1), { state: 'purged', at: 'x', upTo: '9', total: 9 });
    index.set(purgeMarkRef('map', 0), { state: 'purged', at: 'x', upTo: '1', total: 1 });
    index.set('store:0:2', replayed);
    const ranges = [
      { partition: 0, low: '2', high: '9' },
      // Holds offsets from 0 again: the mark up to 9 is of an earlier topic.
      { partition: 1, low: '0', high: '3' },
    ];
    expect(index.purged('store', ranges)).toBe(2);
    expect(index.purged('map', [{ partition: 0, low: '1', high: '1' }])).toBe(1);
    expect(index.purged('store', undefined)).toBe(0);
  });

  it('says when a record no longer held was purged', () => {
    const index = new MarkIndex();
    index.set(purgeMarkRef('store', 0), { state: 'purged', at: '2024-05-01T00:00:00.000Z', upTo: '5', total: 5 });
    expect(index.purgedAt('store', 0, '4')).toBe('2024-05-01T00:00:00.000Z');
    expect(index.purgedAt('store', 0, '5')).toBeUndefined();
    expect(index.purgedAt('store', 1, '0')).toBeUndefined();
  });

  it('finds the replay marks of the records a purge deletes', () => {
    const index = new MarkIndex();
    for (const ref of ['store:0:1', 'store:0:4', 'store:0:9', 'store:1:1', 'storex:0:1']) index.set(ref, replayed);
    index.set(purgeMarkRef('store', 0), { state: 'purged', at: 'x', upTo: '5', total: 5 });
    expect(index.replayMarksBelow('store', 0, '5')).toEqual(['store:0:1', 'store:0:4']);
  });

  it('counts the replay marks of records a partition still holds, for a depth without reading them', () => {
    const index = new MarkIndex();
    for (const ref of ['store:0:1', 'store:0:4', 'store:0:9', 'store:1:0', 'storex:0:4', 'map:0:4']) index.set(ref, replayed);
    index.set(purgeMarkRef('store', 0), { state: 'purged', at: 'x', upTo: '2', total: 2 });
    expect(index.replayedWithin('store', [{ partition: 0, low: '2', high: '9' }, { partition: 1, low: '0', high: '1' }])).toBe(2);
  });
});
