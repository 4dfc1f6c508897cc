import { describe, expect, it } from 'vitest';
import { shopwareTargetSchema } from '../../../../src/config/targets.js';
import { ShopwareRejectedError } from '../../../../src/connectors/shopware/errors.js';
import { DEFAULT_CURRENCY_ID, type SyncOperations } from '../../../../src/connectors/shopware/types.js';
import { applyEntries } from '../../../../src/sinks/shopware/apply.js';
import { netOf, priceArray, productId, stockOf } from '../../../../src/sinks/shopware/mapping.js';
import { planBatch, type Entry, type PlannedRecord } from '../../../../src/sinks/shopware/plan.js';
import type { ProductChange } from '../../../../src/schemas/zod/product.js';

const target = shopwareTargetSchema.parse({
  url: 'https://shop.example.com',
  clientId: 'SWIAEXAMPLE',
  clientSecret: 'example-secret',
  taxId: '4f6a1c0e9b2d47c8a3e5f7091b2c3d4e',
  currencies: { USD: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' },
});
const KEY = 'lumen/product/77/0';

function saveOf(version: bigint, fields: Partial<ProductChange> = {}): PlannedRecord {
  const value = { tenant: 'lumen', store_id: 0, entity_id: '77', source_version: version, occurred_at: 0, sku: 'LMP-77', name: 'Floor lamp', description: null, status: 'enabled', price: 20, currency: 'EUR', qty: 3, ...fields } as ProductChange;
  return { index: 0, key: KEY, version, change: { kind: 'save', value } };
}

describe('mapping', () => {
  it('derives the id from the md5 of the record key', () => {
    expect(productId(KEY)).toMatch(/^[0-9a-f]{32}$/);
    expect(productId(KEY)).toBe(productId(KEY));
    expect(productId(KEY)).not.toBe(productId('lumen/product/77/1'));
  });

  it('computes net from gross at the tax rate and rounds stock down', () => {
    expect(netOf(119, 19)).toBe(100);
    expect(stockOf(2.9)).toBe(2);
  });

  it('refuses a foreign-currency price without a default price to keep', () => {
    expect(() => priceArray(10, 'USD', undefined, target)).toThrow(/needs a EUR price/);
    expect(priceArray(10, 'USD', [{ currencyId: DEFAULT_CURRENCY_ID, gross: 9, net: 7.56, linked: true }], target).map((p) => p.currencyId)).toEqual([
      DEFAULT_CURRENCY_ID,
      '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    ]);
  });
});

describe('planBatch', () => {
  it('folds the records of one key into one entry and keeps the newest fields', () => {
    const records = [saveOf(1n), { ...saveOf(3n, { name: 'Three' }), index: 1 }, { ...saveOf(2n, { name: 'Two' }), index: 2 }];
    const { decided, entries } = planBatch(records, [], target);
    expect([...decided]).toEqual([[2, { status: 'stale' }]]);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ op: 'upsert', records: [0, 1], payload: { name: 'Three', customFields: { ragsync_version: '3' } } });
  });

  it('turns a save followed by a delete of a product the shop lacks into nothing to send', () => {
    const { decided, entries } = planBatch([saveOf(1n), { index: 1, key: KEY, version: 2n, change: { kind: 'delete' } }], [], target);
    expect(entries).toEqual([]);
    expect([...decided.values()]).toEqual([{ status: 'applied' }, { status: 'applied' }]);
  });

  it('keeps the stored price when the product record is older than the price version', () => {
    const shop = [{ id: productId(KEY), key: KEY, version: 1n, priceVersion: 9n, stockVersion: 1n }];
    const { entries } = planBatch([saveOf(5n, { price: 1 })], shop, target);
    expect(entries[0]!.payload).not.toHaveProperty('price');
    expect(entries[0]!.payload).toMatchObject({ stock: 3, customFields: { ragsync_stock_version: '5' } });
  });
});

describe('planBatch with remembered deletes', () => {
  const deleted = new Map([[KEY, 5n]]);
  const priceOf = (version: bigint, index = 0): PlannedRecord => ({
    index,
    key: KEY,
    version,
    change: { kind: 'price', value: { tenant: 'lumen', store_id: 0, entity_id: '77', source_version: version, occurred_at: 0, sku: 'LMP-77', price: 9, currency: 'EUR' } as never },
  });
  const deleteOf = (version: bigint, index = 0): PlannedRecord => ({ index, key: KEY, version, change: { kind: 'delete' } });

  it('drops a save or a price not newer than the delete as stale', () => {
    const { decided, entries, tombstones } = planBatch([saveOf(4n), { ...saveOf(5n), index: 1 }, priceOf(5n, 2)], [], target, deleted);
    expect([...decided.values()]).toEqual([{ status: 'stale' }, { status: 'stale' }, { status: 'stale' }]);
    expect(entries).toEqual([]);
    expect(tombstones.size).toBe(0);
  });

  it('recreates the product from a newer save, which forgets the delete', () => {
    const { entries } = planBatch([saveOf(6n)], [], target, deleted);
    expect(entries).toMatchObject([{ op: 'upsert', clearsDelete: 6n, payload: { id: productId(KEY), taxId: target.taxId } }]);
  });

  it('remembers a delete of a product the shop lacks, and the delete of a product it has once acknowledged', () => {
    expect(planBatch([deleteOf(7n)], [], target, deleted).tombstones).toEqual(new Map([[KEY, 7n]]));
    expect(planBatch([deleteOf(5n)], [], target, deleted).tombstones.size).toBe(0);
    expect([...planBatch([deleteOf(4n)], [], target, deleted).decided.values()]).toEqual([{ status: 'stale' }]);
    const shop = [{ id: productId(KEY), key: KEY, version: 6n }];
    const { entries, tombstones } = planBatch([deleteOf(8n)], shop, target, deleted);
    expect(entries).toEqual([{ op: 'delete', key: KEY, payload: { id: productId(KEY) }, records: [0], deletedAt: 8n }]);
    expect(tombstones.size).toBe(0);
  });

  it('treats a delete earlier in the batch like a remembered one', () => {
    const { decided, entries, tombstones } = planBatch([saveOf(1n), deleteOf(2n, 1), { ...saveOf(2n), index: 2 }, priceOf(2n, 3)], [], target);
    expect([...decided].sort(([a], [b]) => a - b).map(([, result]) => result.status)).toEqual(['applied', 'applied', 'stale', 'stale']);
    expect(entries).toEqual([]);
    expect(tombstones).toEqual(new Map([[KEY, 2n]]));
  });
});

describe('applyEntries', () => {
  const entry = (i: number): Entry => ({ op: 'upsert', key: `k${i}`, payload: { id: String(i), productNumber: `N-${i}` }, records: [i] });

  it('drops the pointed entries and sends the others again', async () => {
    const bodies: SyncOperations[] = [];
    const sync = async (body: SyncOperations) => {
      bodies.push(body);
      const ids = body.upsert!.payload.map((p) => p.id);
      const bad = ids.indexOf('3');
      if (bad >= 0) throw new ShopwareRejectedError('400', 400, [{ code: 'X', detail: 'bad name', source: { pointer: `/upsert/${bad}/name` } }]);
    };
    const entries = Array.from({ length: 6 }, (_, i) => entry(i));
    const refused = await applyEntries(entries, sync, 'shop.example.com');
    expect([...refused.keys()]).toEqual([entries[3]]);
    expect(refused.get(entries[3]!)!.message).toBe('shopware shop.example.com: product N-3 (k3) refused: X: bad name (at /upsert/3/name)');
    expect(bodies).toHaveLength(2);
  });

  it('splits in halves when no pointer names a record', async () => {
    let calls = 0;
    const sync = async (body: SyncOperations) => {
      calls += 1;
      if (body.upsert!.payload.some((p) => p.id === '6')) throw new ShopwareRejectedError('400', 400, [{ code: 'DB', detail: 'constraint' }]);
    };
    const entries = Array.from({ length: 8 }, (_, i) => entry(i));
    const refused = await applyEntries(entries, sync, 'shop.example.com');
    expect([...refused.keys()]).toEqual([entries[6]]);
    expect(calls).toBe(1 + 2 * 3);
  });

  it('throws anything but a refusal', async () => {
    await expect(applyEntries([entry(0)], async () => Promise.reject(new Error('down')), 'h')).rejects.toThrow('down');
  });
});
