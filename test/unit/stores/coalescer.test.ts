import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../src/stores/coalescer.js';

describe('the coalescer', () => {
  it('runs a lone item at once and everything submitted meanwhile together in the next round', async () => {
    const rounds: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const coalescer = new Coalescer<number, number>(async (items) => {
      rounds.push(items);
      if (rounds.length === 1) await gate;
      return items.map((i) => i * 10);
    });
    const first = coalescer.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const others = [coalescer.submit(2), coalescer.submit(3)];
    release();
    expect(await Promise.all([first, ...others])).toEqual([10, 20, 30]);
    expect(rounds).toEqual([[1], [2, 3]]);
  });

  it('gives every caller of a failed round the error and goes on with the next round', async () => {
    let calls = 0;
    const coalescer = new Coalescer<string, string>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('store is down');
      return items;
    });
    const failed = coalescer.submit('a');
    await expect(failed).rejects.toThrow('store is down');
    await expect(coalescer.submit('b')).resolves.toBe('b');
  });

  it('caps a round by weight, but always takes at least one item', async () => {
    const rounds: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const coalescer = new Coalescer<number, number>(
      async (items) => {
        rounds.push(items);
        if (rounds.length === 1) await gate;
        return items;
      },
      { weightOf: (n) => n, maxWeight: 10 },
    );
    const all = [coalescer.submit(1)];
    await new Promise((resolve) => setImmediate(resolve));
    all.push(coalescer.submit(4), coalescer.submit(5), coalescer.submit(20), coalescer.submit(3));
    release();
    await Promise.all(all);
    expect(rounds).toEqual([[1], [4, 5], [20], [3]]);
  });
  it('runs each item of a round alone again when the round was refused for one item, so only its caller fails', async () => {
    const rounds: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const refused = (error: unknown) => (error as Error).message.startsWith('400');
    const coalescer = new Coalescer<string, string>(
      async (items) => {
        rounds.push(items);
        if (rounds.length === 1) await gate;
        if (items.includes('bad')) throw new Error('400: point bad is invalid');
        return items;
      },
      { splitOn: refused },
    );
    const first = coalescer.submit('first');
    await new Promise((resolve) => setImmediate(resolve));
    const together = [coalescer.submit('good'), coalescer.submit('bad'), coalescer.submit('also good')].map((p) => p.then((v) => v, (e: Error) => e.message));
    release();
    expect(await first).toBe('first');
    expect(await Promise.all(together)).toEqual(['good', '400: point bad is invalid', 'also good']);
    expect(rounds).toEqual([['first'], ['good', 'bad', 'also good'], ['good'], ['bad'], ['also good']]);
  });

  it('does not split a round that failed for a reason of the target', async () => {
    const rounds: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const coalescer = new Coalescer<string, string>(
      async (items) => {
        rounds.push(items);
        if (rounds.length === 1) await gate;
        else throw new Error('503');
        return items;
      },
      { splitOn: (error) => (error as Error).message.startsWith('400') },
    );
    const first = coalescer.submit('first');
    await new Promise((resolve) => setImmediate(resolve));
    const together = [coalescer.submit('a'), coalescer.submit('b')].map((p) => p.then((v) => v, (e: Error) => e.message));
    release();
    await first;
    expect(await Promise.all(together)).toEqual(['503', '503']);
    expect(rounds).toEqual([['first'], ['a', 'b']]);
  });
});
