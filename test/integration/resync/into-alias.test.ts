import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineHarness, type StoreKind } from '../../support/pipeline-harness.js';
import { aliasTarget, deleteLine, Expected, readCollection, resync, saveLine } from './support.js';

/**
 * `ragsync resync --into` under live traffic: while a live pipeline keeps indexing saves, new
 * products and deletes, the resync fills a new collection from `vectors`, switches the configured
 * name to it and catches up. Afterwards the new collection, read past ragsync, holds exactly the
 * newest version of every live document, including what was published during and after the switch.
 */
describe.each<StoreKind>(['lancedb', 'qdrant'])('resync --into a new collection under live traffic (%s)', (kind) => {
  let harness: PipelineHarness;
  const expected = new Expected();
  let version = 1000;

  const publish = async (lines: Array<{ id: string; deleted?: boolean }>) => {
    const text = lines.map(({ id, deleted }) => {
      version += 1;
      expected.record(id, version, deleted === true);
      return deleted ? deleteLine(id, version) : saveLine(id, version);
    });
    await harness.publishLines(text);
  };

  beforeAll(async () => {
    harness = await PipelineHarness.create(kind);
    await harness.start();
    await publish(Array.from({ length: 60 }, (_, i) => ({ id: `base-${i}` })));
    await harness.settle();
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('ends with the alias switched and the new collection equal to the source, nothing lost', { timeout: 300_000 }, async () => {
    const newCollection = `${harness.config.store.collection}_v2`;
    let live = true;
    let round = 0;
    // Live traffic for the whole resync: a new product, a new version of an old one, now and then a delete.
    const traffic = (async () => {
      while (live) {
        round += 1;
        const batch: Array<{ id: string; deleted?: boolean }> = [{ id: `live-${round}` }, { id: `base-${round % 60}` }];
        if (round % 7 === 0) batch.push({ id: `base-${(round * 3) % 60}`, deleted: true });
        await publish(batch);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    })();

    const run = await resync(harness, ['--from', 'vectors', '--into', newCollection]);
    // Traffic after the switch goes to the new collection through the alias.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    live = false;
    await traffic;
    await harness.settle();

    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const phases = [...new Set(run.events.map((e) => e.phase))];
    expect(phases).toEqual(['prepare', 'replay', 'switch', 'catch-up', 'sweep', 'cleanup', 'done']);
    for (const event of run.events) expect(Object.keys(event).slice(0, 5)).toEqual(['phase', 'done', 'total', 'rate', 'etaSeconds']);
    const done = run.events.at(-1)!;
    expect(done.summary).toMatchObject({ target: newCollection, switched: { alias: harness.config.store.collection, now: newCollection } });
    expect(round).toBeGreaterThan(5);

    expect(await aliasTarget(harness)).toBe(newCollection);
    const actual = await readCollection(harness, newCollection);
    expect(actual.docs).toEqual(expected.live());
    expect(actual.duplicateIds).toBe(0);
    // Through ragsync too: a store opened on the configured name reads the new collection.
    const store = await harness.openStore();
    expect(await store.countPoints()).toBe(actual.points);
    expect((await store.listDocKeys()).sort()).toEqual([...expected.live().keys()].sort());
    // A store from before aliases: on Qdrant the first switch had to replace the collection of that name.
    expect(done.summary).toMatchObject({ switched: { previous: harness.config.store.collection, adopted: kind === 'qdrant' } });
    if (harness.qdrant) expect(harness.qdrant.violations).toEqual([]);
  });

  it('switches again from one new collection to the next as an alias change alone', { timeout: 300_000 }, async () => {
    const v2 = `${harness.config.store.collection}_v2`;
    const v3 = `${harness.config.store.collection}_v3`;
    await publish([{ id: 'after-first' }]);
    const run = await resync(harness, ['--into', v3]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.events.at(-1)).toMatchObject({ summary: { switched: { previous: v2, now: v3, adopted: false } } });
    await harness.settle();
    expect(await aliasTarget(harness)).toBe(v3);
    expect((await readCollection(harness, v3)).docs).toEqual(expected.live());
    // The collection switched away from stays, as it was.
    expect((await readCollection(harness, v2)).points).toBeGreaterThan(0);
    if (harness.qdrant) expect(harness.qdrant.violations).toEqual([]);
  });
});
