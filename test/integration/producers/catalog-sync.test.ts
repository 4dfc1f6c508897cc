import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseKey } from '../../../src/core/keys.js';
import { readCatalogFile } from '../../../src/producers/catalog/read-file.js';
import { openChangeSink } from '../../../src/producers/connect.js';
import { CatalogState } from '../../../src/producers/catalog/state.js';
import { syncCatalog, type CatalogSyncOptions } from '../../../src/producers/catalog/sync.js';
import { createProducerHarness, type ProducerHarness } from './harness.js';

let h: ProducerHarness;
let dir: string;
let file: string;
let logPath: string;

beforeAll(async () => {
  h = await createProducerHarness('catalog', { shop: { secrets: [], stores: [0] } });
  dir = await mkdtemp(join(tmpdir(), 'ragsync-catalog-'));
  file = join(dir, 'products.csv');
  logPath = join(dir, 'changes.ndjson');
  await copyFile(fileURLToPath(new URL('../../fixtures/catalog/products.csv', import.meta.url)), file);
});

afterAll(async () => {
  await h?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function options(extra: Partial<CatalogSyncOptions> = {}): CatalogSyncOptions {
  const scope = { tenant: 'shop', type: 'product' as const, storeId: 0 };
  return { ...scope, stores: [0], idField: 'sku', sink: h.sink, state: new CatalogState(h.redis, scope, h.config.redis.keyPrefix), logPath, ackTimeoutMs: 15_000, ...extra };
}

describe('syncing a catalog file to real Kafka and Redis', () => {
  it('publishes every record of a first sync and nothing on an unchanged second one', async () => {
    const first = await syncCatalog(await readCatalogFile(file), options());
    expect(first.published).toBe(3);
    const second = await syncCatalog(await readCatalogFile(file), options());
    expect(second.published).toBe(0);
    expect(second.diff.unchanged).toHaveLength(3);
    const records = await h.read('product');
    expect(records.map((r) => parseKey(r.key).entityId).sort()).toEqual(['TRK-100', 'TRK-200', 'TRK-300']);
    expect(records.find((r) => r.key.includes('TRK-100'))!.decoded).toMatchObject({ name: 'Ridgeline trail runner', price: 119, categories: ['Shoes', 'Trail running'], attributes: { color: 'Slate', material: 'Mesh' } });
  });

  it('publishes a modified record naming its changed fields, a tombstone for a removed one and the added one', async () => {
    const text = await readFile(file, 'utf8');
    const edited = text
      .replace('119.00,EUR', '99.00,EUR')
      .split('\n')
      .filter((line) => !line.startsWith('TRK-200'))
      .join('\n')
      .concat('TRK-400,Canyon water bottle,Keeps water cold.,12.00,EUR,Accessories,Northpass,Blue,Steel,1,40\n');
    await writeFile(file, edited);

    const summary = await syncCatalog(await readCatalogFile(file), options());
    expect(summary.diff.modified.map((m) => [m.id, m.fields])).toEqual([['TRK-100', ['price']]]);
    expect(summary.diff.deleted).toEqual(['TRK-200']);
    expect(summary.diff.added.map((a) => a.id)).toEqual(['TRK-400']);
    expect(summary.published).toBe(3);

    const records = await h.read('product');
    const of = (id: string) => records.filter((r) => parseKey(r.key).entityId === id);
    expect(of('TRK-200').at(-1)!.value).toBeNull();
    const prices = of('TRK-100').map((r) => r.decoded!.price);
    expect(prices).toEqual([119, 99]);
    const versions = of('TRK-100').map((r) => r.decoded!.source_version as bigint);
    expect(versions[1]! > versions[0]!).toBe(true);

    const log = (await readFile(logPath, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(log.slice(-3).map((e) => [e.change_type, e.id, e.fields_changed])).toEqual([
      ['modified', 'TRK-100', ['price']],
      ['added', 'TRK-400', undefined],
      ['deleted', 'TRK-200', undefined],
    ]);
  });

  it('republishes every record with force', async () => {
    const summary = await syncCatalog(await readCatalogFile(file), options({ force: true }));
    expect(summary.published).toBe(3);
  });

  it('does not move the state when Kafka does not acknowledge', async () => {
    const dead = await openChangeSink({ ...h.config, kafka: { ...h.config.kafka, brokers: ['127.0.0.1:1'], ackTimeoutMs: 2000 } });
    await writeFile(file, (await readFile(file, 'utf8')).replace('Canyon water bottle', 'Canyon steel bottle'));
    try {
      await expect(syncCatalog(await readCatalogFile(file), options({ sink: dead, ackTimeoutMs: 2000 }))).rejects.toThrow();
    } finally {
      await dead.close().catch(() => undefined);
    }
    const retry = await syncCatalog(await readCatalogFile(file), options());
    expect(retry.diff.modified.map((m) => [m.id, m.fields])).toEqual([['TRK-400', ['name']]]);
  });
});

describe('a catalog file with rows Kafka could not take', () => {
  it('rejects a row whose record is too large for its topic or whose text is not valid Unicode, publishes the others, and moves no state for them', async () => {
    const scope = { tenant: 'shop', type: 'product' as const, storeId: 0 };
    const state = new CatalogState(h.redis, { ...scope, type: 'product' }, `${h.config.redis.keyPrefix}rows:`);
    // Every field within the edge's limits (2 MiB), the record over the topics' 4 MiB.
    const text = `<p>${'Long care guide. '.repeat(100_000)}</p>`;
    const rows = [
      { sku: 'ROW-OK-1', name: 'Small lamp' },
      { sku: 'ROW-HUGE', name: 'Huge lamp', description: text, short_description: text, meta_description: text },
      { sku: 'ROW-LONE', name: 'Lamp \ud800' },
      { sku: 'ROW-OK-2', name: 'Small lamp too' },
    ];
    const summary = await syncCatalog(rows, options({ state, logPath: null }));
    expect(summary.published).toBe(2);
    expect(summary.rejected).toEqual([
      { row: 3, id: 'ROW-LONE', issues: [{ path: 'name', message: expect.stringMatching(/lone surrogate/) }] },
      { row: 2, id: 'ROW-HUGE', issues: [{ path: '', message: expect.stringMatching(/too large/) }] },
    ]);
    const ids = (await h.read('product')).map((r) => parseKey(r.key).entityId);
    expect(ids.filter((id) => id.startsWith('ROW-')).sort()).toEqual(['ROW-OK-1', 'ROW-OK-2']);
    expect([...(await state.load()).keys()].sort()).toEqual(['ROW-OK-1', 'ROW-OK-2']);
  });
});
