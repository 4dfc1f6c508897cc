import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { wooFingerprint } from '../../../src/connectors/woocommerce/fingerprint.js';
import { classify } from '../../../src/core/errors.js';
import type { SinkResult } from '../../../src/core/sink.js';
import { WoocommerceSink } from '../../../src/sinks/woocommerce/index.js';
import { startWooServer, type StoredProduct, type WooTestServer } from '../../support/woocommerce-server.js';
import { uniqueName } from '../../support/unique.js';
import { capturingLogger, deleteRecord, keyOf, priceRecord, productRecord, stockRecord, targetOf } from './woocommerce-fixtures.js';
import type { WoocommerceTarget } from '../../../src/config/targets.js';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
let server: WooTestServer;
let prefix: string;
const captured = capturingLogger();

beforeEach(async () => {
  server = await startWooServer();
  prefix = `${uniqueName('woo')}:`;
});

afterEach(async () => {
  await server.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
});

afterAll(() => {
  // Nothing the sink logged in this file holds a secret or a signature.
  const all = captured.lines.join('\n');
  expect(captured.lines.length).toBeGreaterThan(0);
  expect(all).not.toMatch(/cs_[0-9a-f]{8}|oauth_signature|authorization/i);
  redis.disconnect();
});

function sinkFor(overrides: Partial<WoocommerceTarget> = {}, fetchImpl?: typeof fetch): WoocommerceSink {
  return new WoocommerceSink(targetOf(server, overrides), { redis, keyPrefix: prefix, logger: captured.logger, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

const statuses = (results: SinkResult[]) => results.map((r) => r.status);
const meta = (product: StoredProduct | undefined, key: string) => server.meta(product, key);
const batchCalls = () => server.requests.filter((r) => r.path.endsWith('/batch'));
const skus = (n: number) => Array.from({ length: n }, (_, i) => `CUSHION-${String(i + 1).padStart(3, '0')}`);

describe('the WooCommerce sink', () => {
  it('creates products with the full mapping, prices as strings, versions and the fingerprint in meta_data', async () => {
    const sink = sinkFor();
    await sink.connect();
    const record = productRecord('VASE-1', 7n, { name: 'Stoneware vase', price: 49, special_price: 39.5, special_from_date: '2026-03-01', special_to_date: '2026-03-31', qty: 3.7, status: 'disabled' });
    expect(statuses(await sink.write([record]))).toEqual(['applied']);
    const product = server.bySku('VASE-1')!;
    expect(product).toMatchObject({
      name: 'Stoneware vase',
      status: 'draft',
      description: '<p>Stonewashed linen, 45 × 45 cm.</p>',
      short_description: 'Linen cushion',
      regular_price: '49',
      sale_price: '39.5',
      date_on_sale_from_gmt: '2026-03-01T00:00:00',
      date_on_sale_to_gmt: '2026-03-31T23:59:59',
      manage_stock: true,
      stock_quantity: 3,
      stock_status: 'instock',
    });
    expect(meta(product, 'ragsync_key')).toBe(keyOf('VASE-1'));
    expect(meta(product, 'ragsync_version')).toBe('7');
    expect(meta(product, 'ragsync_price_version')).toBe('7');
    expect(meta(product, 'ragsync_stock_version')).toBe('7');
    expect(meta(product, 'ragsync_sale_price')).toBe('39.5');
    // What the shop holds after the write has the fingerprint the sink stored (no echo from a webhook).
    expect(meta(product, 'ragsync_fingerprint')).toBe(wooFingerprint(product));
    expect(sink.target).toBe(`woocommerce:${new URL(server.url).host}`);
  });

  it('splits 100 records into calls of at most batchSize items', async () => {
    const sink = sinkFor({ batchSize: 40 });
    const results = await sink.write(skus(100).map((sku) => productRecord(sku, 1n)));
    expect(new Set(statuses(results))).toEqual(new Set(['applied']));
    expect(batchCalls().map((c) => c.items)).toEqual([40, 40, 20]);
    expect(server.allProducts()).toHaveLength(100);
  });

  it('fails only the 3 items the shop refuses out of 100, and a second write of those 3 alone succeeds', async () => {
    const sink = sinkFor({ batchSize: 100 });
    const all = skus(100);
    const broken = [all[4]!, all[50]!, all[97]!];
    server.faults.failSkus.set(broken[0]!, { status: 500, code: 'woocommerce_product_image_upload_error', message: 'Error getting remote image.' });
    server.faults.failSkus.set(broken[1]!, { status: 409, code: 'db_lock_wait_timeout', message: 'Lock wait timeout exceeded.' });
    server.faults.failSkus.set(broken[2]!, { status: 400, code: 'woocommerce_rest_invalid_product_data', message: 'The product data is invalid.' });
    const records = all.map((sku) => productRecord(sku, 1n));
    const results = await sink.write(records);
    const failedAt = results.flatMap((r, i) => (r.status === 'failed' ? [all[i]] : []));
    expect(failedAt).toEqual(broken);
    const errors = results.filter((r) => r.status === 'failed').map((r) => (r as { error: unknown }).error);
    expect(errors.map(classify)).toEqual(['retryable', 'retryable', 'permanent']);
    expect((errors[2] as Error).message).toBe(`woocommerce ${new URL(server.url).host}: create ${broken[2]} (${keyOf(broken[2]!)}): 400 woocommerce_rest_invalid_product_data The product data is invalid.`);
    expect(server.allProducts()).toHaveLength(97);

    server.faults.failSkus.clear();
    const before = batchCalls().length;
    const retry = records.filter((_, i) => broken.includes(all[i]!));
    expect(statuses(await sink.write(retry))).toEqual(['applied', 'applied', 'applied']);
    expect(batchCalls().slice(before).map((c) => c.skus)).toEqual([broken]);
    expect(server.allProducts()).toHaveLength(100);
  });

  it('finds its products again by SKU after Redis lost the mapping, and adopts a product created by hand', async () => {
    const sink = sinkFor();
    await sink.write([productRecord('RUG-1', 1n), productRecord('RUG-2', 1n)]);
    const handmade = server.addProduct({ sku: 'RUG-3', name: 'Jute rug (entered by hand)' });
    await redis.del(...(await redis.keys(`${prefix}*`)));
    const results = await sink.write([productRecord('RUG-1', 2n, { name: 'Wool rug' }), productRecord('RUG-2', 2n), productRecord('RUG-3', 2n, { name: 'Jute rug' })]);
    expect(statuses(results)).toEqual(['applied', 'applied', 'applied']);
    expect(server.allProducts()).toHaveLength(3);
    expect(server.bySku('RUG-1')!.name).toBe('Wool rug');
    expect(server.product(handmade.id)).toMatchObject({ name: 'Jute rug' });
    expect(meta(server.product(handmade.id), 'ragsync_key')).toBe(keyOf('RUG-3'));
    expect(await redis.hget(`${prefix}woocommerce:${new URL(server.url).host}:ids`, keyOf('RUG-3'))).toBe(String(handmade.id));
  });

  it('adopts the owner of a duplicate SKU when a product with it appears between lookup and create', async () => {
    let raced: StoredProduct | undefined;
    const racing: typeof fetch = async (input, init) => {
      if (!raced && String(input).includes('/products/batch')) raced = server.addProduct({ sku: 'THROW-1', name: 'Throw (other writer)' });
      return fetch(input, init);
    };
    const sink = sinkFor({}, racing);
    expect(statuses(await sink.write([productRecord('THROW-1', 4n, { name: 'Alpaca throw' })]))).toEqual(['applied']);
    expect(server.allProducts()).toHaveLength(1);
    expect(server.product(raced!.id)).toMatchObject({ name: 'Alpaca throw' });
    expect(meta(server.product(raced!.id), 'ragsync_version')).toBe('4');
  });

  it('guards each class of fields by its own version', async () => {
    const sink = sinkFor();
    await sink.write([productRecord('LAMP-9', 10n, { price: 80, qty: 5 })]);
    expect(statuses(await sink.write([priceRecord('LAMP-9', 5n, 60)]))).toEqual(['stale']);
    expect(statuses(await sink.write([priceRecord('LAMP-9', 20n, 75)]))).toEqual(['applied']);
    // A newer product record writes its content and stock, but not its price: the price class holds 20.
    expect(statuses(await sink.write([productRecord('LAMP-9', 15n, { name: 'Brass lamp', price: 80, qty: 9 })]))).toEqual(['applied']);
    expect(statuses(await sink.write([stockRecord('LAMP-9', 12n, 1)]))).toEqual(['stale']);
    expect(statuses(await sink.write([productRecord('LAMP-9', 14n, { name: 'Older name' })]))).toEqual(['stale']);
    expect(statuses(await sink.write([priceRecord('LAMP-9', 20n, 75)]))).toEqual(['applied']);
    const product = server.bySku('LAMP-9')!;
    expect(product).toMatchObject({ name: 'Brass lamp', regular_price: '75', stock_quantity: 9 });
    expect([meta(product, 'ragsync_version'), meta(product, 'ragsync_price_version'), meta(product, 'ragsync_stock_version')]).toEqual(['15', '20', '15']);
    expect(meta(product, 'ragsync_fingerprint')).toBe(wooFingerprint(product));
  });

  it('sends price-only and stock-only payloads', async () => {
    const sink = sinkFor();
    await sink.write([productRecord('MUG-1', 1n)]);
    const seen: unknown[] = [];
    const spying: typeof fetch = async (input, init) => {
      if (String(input).includes('/batch')) seen.push(JSON.parse(String(init?.body)));
      return fetch(input, init);
    };
    const spy = sinkFor({}, spying);
    await spy.write([priceRecord('MUG-1', 2n, 12.5, { special_price: 9.9, special_from_date: '2026-05-01' })]);
    await spy.write([stockRecord('MUG-1', 3n, 0)]);
    const id = server.bySku('MUG-1')!.id;
    const [price, stock] = seen as { update: Record<string, unknown>[] }[];
    expect(Object.keys(price!.update[0]!).sort()).toEqual(['date_on_sale_from_gmt', 'date_on_sale_to_gmt', 'id', 'meta_data', 'regular_price', 'sale_price']);
    expect(price!.update[0]).toMatchObject({ id, regular_price: '12.5', sale_price: '9.9', date_on_sale_from_gmt: '2026-05-01T00:00:00', date_on_sale_to_gmt: null });
    expect(Object.keys(stock!.update[0]!).sort()).toEqual(['id', 'manage_stock', 'meta_data', 'stock_quantity', 'stock_status']);
    expect(server.bySku('MUG-1')).toMatchObject({ stock_quantity: 0, stock_status: 'outofstock', sale_price: '9.9' });
  });

  it('fails a price record of a product the shop does not have yet as retryable, without creating it', async () => {
    const results = await sinkFor().write([priceRecord('NEW-1', 1n, 10)]);
    expect(statuses(results)).toEqual(['failed']);
    expect(classify((results[0] as { error: unknown }).error)).toBe('retryable');
    expect(server.allProducts()).toHaveLength(0);
  });

  describe('when the shop manager set a sale price by hand', () => {
    async function withManualOffer(allowManualOffers: boolean) {
      const sink = sinkFor({ allowManualOffers });
      await sink.write([productRecord('CHAIR-1', 1n, { price: 120 })]);
      server.editProduct(server.bySku('CHAIR-1')!.id, { sale_price: '99' });
      const first = await sink.write([priceRecord('CHAIR-1', 2n, 125, { special_price: 110 })]);
      const second = await sink.write([priceRecord('CHAIR-1', 3n, 130)]);
      return [...first, ...second];
    }

    it('keeps it under allowManualOffers and logs it once', async () => {
      const from = captured.lines.length;
      expect(statuses(await withManualOffer(true))).toEqual(['applied', 'applied']);
      const product = server.bySku('CHAIR-1')!;
      expect(product).toMatchObject({ regular_price: '130', sale_price: '99' });
      expect(meta(product, 'ragsync_price_version')).toBe('3');
      expect(meta(product, 'ragsync_fingerprint')).toBe(wooFingerprint(product));
      const notes = captured.lines.slice(from).filter((l) => l.includes('kept the sale price set in the shop'));
      expect(notes).toHaveLength(1);
      expect(JSON.parse(notes[0]!)).toMatchObject({ key: keyOf('CHAIR-1'), productId: product.id });
    });

    it('overwrites it when allowManualOffers is false', async () => {
      await withManualOffer(false);
      expect(server.bySku('CHAIR-1')).toMatchObject({ regular_price: '130', sale_price: '' });
    });
  });

  it('deletes by mapped id, forgets the mapping, and a delete of an absent product is applied', async () => {
    const sink = sinkFor();
    await sink.write([productRecord('BOWL-1', 1n), productRecord('BOWL-2', 1n)]);
    const id = server.bySku('BOWL-1')!.id;
    expect(statuses(await sink.write([deleteRecord('BOWL-1', 2n)]))).toEqual(['applied']);
    expect(server.bySku('BOWL-1')).toBeUndefined();
    expect(server.deletedProducts().map((p) => p.id)).toEqual([id]);
    expect(await redis.hget(`${prefix}woocommerce:${new URL(server.url).host}:ids`, keyOf('BOWL-1'))).toBeNull();
    // Deleted in the shop by hand: the delete is applied all the same.
    server.requests.splice(0);
    await redis.del(`${prefix}woocommerce:${new URL(server.url).host}:ids`);
    const bowl2 = server.bySku('BOWL-2')!.id;
    expect(statuses(await sink.write([deleteRecord('BOWL-3', 1n)]))).toEqual(['applied']);
    expect(batchCalls()).toHaveLength(0);
    expect(statuses(await sink.write([deleteRecord('BOWL-2', 5n)]))).toEqual(['applied']);
    expect(server.deletedProducts().map((p) => p.id)).toEqual([id, bowl2]);
    // An older save after the delete stays stale.
    expect(statuses(await sink.write([productRecord('BOWL-1', 1n)]))).toEqual(['stale']);
    expect(statuses(await sink.write([productRecord('BOWL-1', 3n)]))).toEqual(['applied']);
    expect(server.bySku('BOWL-1')).toBeDefined();
  });

  it('writes variations through the parent’s variations batch', async () => {
    const sink = sinkFor();
    await sink.write([productRecord('SHIRT', 1n, { name: 'Linen shirt', attributes: { product_type: 'variable' }, price: null, qty: null })]);
    const parent = server.bySku('SHIRT')!;
    expect(parent.type).toBe('variable');
    const sizes = ['SHIRT-S', 'SHIRT-M'].map((sku) => productRecord(sku, 1n, { attributes: { parent_sku: 'SHIRT', size: sku.slice(-1) }, price: 59 }));
    expect(statuses(await sink.write(sizes))).toEqual(['applied', 'applied']);
    expect(batchCalls().at(-1)!.path).toBe(`/wp-json/wc/v3/products/${parent.id}/variations/batch`);
    const medium = server.bySku('SHIRT-M')!;
    expect(medium).toMatchObject({ type: 'variation', parent_id: parent.id, regular_price: '59', stock_quantity: 12 });
    expect(statuses(await sink.write([priceRecord('SHIRT-M', 2n, 64)]))).toEqual(['applied']);
    expect(server.bySku('SHIRT-M')!.regular_price).toBe('64');
    expect(batchCalls().at(-1)!.path).toBe(`/wp-json/wc/v3/products/${parent.id}/variations/batch`);
    expect(statuses(await sink.write([deleteRecord('SHIRT-S', 3n)]))).toEqual(['applied']);
    expect(server.allProducts().map((p) => p.sku).sort()).toEqual(['SHIRT', 'SHIRT-M']);
  });

  it('applies records of other stores and other entity types without a request', async () => {
    const sink = sinkFor({ stores: [1] });
    const category = { ...productRecord('X', 1n), key: keyOf('garden', 1, 'category'), topic: 'changes.category' };
    expect(statuses(await sink.write([productRecord('OTHER-STORE', 1n), category]))).toEqual(['applied', 'applied']);
    expect(server.requests).toHaveLength(0);
  });

  it('applies records of one key in one call in order', async () => {
    const results = await sinkFor().write([productRecord('DESK-1', 1n), productRecord('DESK-1', 3n, { name: 'Desk v3' }), productRecord('DESK-1', 2n, { name: 'Desk v2' })]);
    expect(statuses(results)).toEqual(['applied', 'applied', 'stale']);
    expect(server.bySku('DESK-1')!.name).toBe('Desk v3');
  });

  it('throws a classified error for the whole write when the shop is down or refuses the credentials', async () => {
    server.faults.unavailableRate = 1;
    const down = await sinkFor().write([productRecord('A-1', 1n)]).catch((e: unknown) => e);
    expect(classify(down)).toBe('retryable');
    server.faults.unavailableRate = 0;
    const refused = await sinkFor({ consumerSecret: 'cs_0000wrong' }).write([productRecord('A-1', 1n)]).catch((e: unknown) => e);
    expect(classify(refused)).toBe('system');
    expect((refused as Error).message).toContain('401 woocommerce_rest_authentication_error');
    expect((refused as Error).message).not.toContain('cs_0000wrong');
  });
});
