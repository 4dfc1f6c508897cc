import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { passProgress, type Offsets } from '../../../src/kafka/group-offsets.js';
import { BarProgress, etaSeconds, formatSeconds, JsonLinesProgress, RateMeter } from '../../../src/resync/progress.js';
import { markerAgeMs } from '../../../src/resync/resync.js';
import { unmarked } from '../../../src/resync/sweep.js';

const offsets = (entries: Record<string, number[]>): Offsets => new Map(Object.entries(entries).map(([topic, values]) => [topic, new Map(values.map((v, p) => [p, v]))]));

describe('resync progress', () => {
  it('writes one JSON object per line, phase, done, total, rate and etaSeconds first', () => {
    const lines: string[] = [];
    const sink = new JsonLinesProgress((line) => lines.push(line));
    sink.update({ phase: 'replay', done: 10, total: 40, rate: 12.345, etaSeconds: 3, stage: 'store' });
    expect(lines).toEqual(['{"phase":"replay","done":10,"total":40,"rate":12.3,"etaSeconds":3,"stage":"store"}\n']);
  });

  it('measures the rate over a sliding window, and the ETA from it', () => {
    const meter = new RateMeter(10_000);
    expect(meter.sample(0, 0)).toBe(0);
    expect(meter.sample(1000, 100)).toBe(100);
    expect(meter.sample(2000, 300)).toBe(150);
    // Beyond the window, older samples stop counting.
    expect(meter.sample(20_000, 400)).toBeCloseTo(100 / 18, 5);
    expect(etaSeconds(100, 400, 50)).toBe(6);
    expect(etaSeconds(400, 400, 0)).toBe(0);
    expect(etaSeconds(100, 400, 0)).toBeNull();
    expect(formatSeconds(3725)).toBe('1h02m');
    expect(formatSeconds(75)).toBe('1m15s');
  });

  it('has a group pass a target when every partition is committed at or beyond it', () => {
    const target = offsets({ vectors: [10, 5, 0] });
    const lows = offsets({ vectors: [2, 0, 0] });
    expect(passProgress(target, offsets({ vectors: [-1, -1, -1] }), lows)).toEqual({ done: 0, total: 13, passed: false });
    expect(passProgress(target, offsets({ vectors: [10, 3, -1] }), lows)).toEqual({ done: 11, total: 13, passed: false });
    expect(passProgress(target, offsets({ vectors: [12, 5, -1] }), lows)).toEqual({ done: 13, total: 13, passed: true });
  });
});

describe('the sweep', () => {
  it('takes live documents in scope that no source record holds', () => {
    const marked = new Set(['shop/product/a/1', 'shop/product/b/1']);
    const live = ['shop/product/a/1', 'shop/product/c/1', 'other/product/d/1'];
    expect(unmarked(live, marked, () => true)).toEqual(['shop/product/c/1', 'other/product/d/1']);
    expect(unmarked(live, marked, (key) => key.startsWith('shop/'))).toEqual(['shop/product/c/1']);
  });

  it('purges delete markers only when older than the tombstones and the retry tiers', () => {
    expect(markerAgeMs(7 * 86_400_000, 80 * 60_000)).toBe(7 * 86_400_000);
    expect(markerAgeMs(1000, 80 * 60_000)).toBe(80 * 60_000);
  });
});

describe('the progress bar', () => {
  it('draws each phase with its rate and ETA, and prints messages above it', async () => {
    const through = new PassThrough();
    let text = '';
    through.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const stream = through as unknown as NodeJS.WriteStream;
    const bar = new BarProgress(stream);
    bar.update({ phase: 'prepare', done: 0, total: 0, rate: 0, etaSeconds: null, message: 'starting resync-x' });
    bar.update({ phase: 'replay', stage: 'store', done: 50, total: 200, rate: 25, etaSeconds: 6 });
    bar.close();
    expect(text).toContain('prepare: starting resync-x');
    expect(text).toMatch(/replay store .*50\/200 25% \| 25\/s \| ETA 6s/);
  });
});
