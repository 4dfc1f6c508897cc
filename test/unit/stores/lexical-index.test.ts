import type { Table } from '@lancedb/lancedb';
import { describe, expect, it } from 'vitest';
import { LexicalIndexUpkeep } from '../../../src/stores/lancedb/lexical-index.js';

/** A table that only counts rows and records index builds; a build waits until `finish` is called when `hold` is set. */
function fakeTable(options: { hold?: boolean; fail?: boolean } = {}) {
  let rows = 0;
  const builds: number[] = [];
  const pending: Array<() => void> = [];
  const table = {
    countRows: async () => rows,
    createIndex: async () => {
      if (options.fail) throw new Error('commit conflict');
      if (options.hold) await new Promise<void>((resolve) => pending.push(resolve));
      builds.push(rows);
    },
  } as unknown as Table;
  return {
    table,
    builds,
    add: (n: number) => (rows += n),
    finish: () => pending.splice(0).forEach((resolve) => resolve()),
  };
}

describe('the upkeep of the LanceDB full-text index', () => {
  it('rebuilds in every write while the table is small, then once a quarter of it is new', async () => {
    const fake = fakeTable();
    const upkeep = new LexicalIndexUpkeep();
    upkeep.indexed(0);
    const write = async (n: number) => {
      fake.add(n);
      await upkeep.wrote(fake.table, n);
    };
    await write(10);
    await write(1);
    await write(500);
    expect(fake.builds).toEqual([10, 11, 511]);
    await write(489);
    expect(fake.builds).toEqual([10, 11, 511, 1000]);
    // From 1,000 rows on, a build waits for 250 new rows.
    await write(200);
    await write(49);
    expect(fake.builds).toEqual([10, 11, 511, 1000]);
    await write(1);
    expect(fake.builds).toEqual([10, 11, 511, 1000, 1250]);
    // A write of no rows (a delete) builds nothing.
    await write(0);
    expect(fake.builds).toHaveLength(5);
  });

  it('builds a large table beside the writes, one build at a time, and waits for it on close', async () => {
    const fake = fakeTable({ hold: true });
    const upkeep = new LexicalIndexUpkeep();
    fake.add(20_000);
    upkeep.indexed(20_000);
    fake.add(9_000);
    await upkeep.wrote(fake.table, 9_000);
    fake.add(10_000);
    await upkeep.wrote(fake.table, 10_000);
    // The write returned; the build is still running and a second one was not started.
    expect(fake.builds).toEqual([]);
    const settled = upkeep.settled();
    fake.finish();
    await settled;
    expect(fake.builds).toEqual([39_000]);
  });

  it('tries a failed build again at the next write', async () => {
    const fake = fakeTable({ fail: true });
    const upkeep = new LexicalIndexUpkeep();
    upkeep.indexed(100);
    fake.add(100);
    await expect(upkeep.wrote(fake.table, 30)).resolves.toBeUndefined();
    let tried = 0;
    const counting = { ...fake.table, countRows: async () => (tried++, 200) } as unknown as Table;
    await upkeep.wrote(counting, 1);
    expect(tried).toBe(1);
  });
});
