import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeMessage } from '../../../src/core/changes.js';
import { formatKey } from '../../../src/core/keys.js';
import { PUSH_STAGE_NAMES } from '../../../src/core/stages.js';
import { productChangeSchema, productPriceChangeSchema, productStockChangeSchema } from '../../../src/schemas/zod/product.js';
import { prng } from '../../support/generate-entities.js';
import { readAll, waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { SHOP_TAX_ID, shopTenants } from '../../support/shop-tenants.js';
import { startShopwareServer, type ShopwareTestServer } from '../../support/shopware-server.js';
import { startWooServer, type WooTestServer } from '../../support/woocommerce-server.js';

/**
 * The shop push stages end to end on the real stack: changes published to Kafka, the six push groups
 * (products, prices, stock each in a group of their own, for Shopware and WooCommerce) writing to
 * loopback shops that fail 30 % of their calls with a 503, WooCommerce also offline for 20 s;
 * afterwards each shop holds exactly the newest version of every class of every product, deleted
 * products are gone, and nothing is in a DLQ. The expected state is computed from the published
 * changes, the actual one read from each shop server's own store.
 */

const TENANT = 'lamps';
const PRODUCTS = 150;

interface Expected {
  deleted: boolean;
  name: string;
  price: number;
  stock: number;
}

const key = (id: string) => formatKey({ tenant: TENANT, entityType: 'product', entityId: id, storeId: 0 });

/**
 * Two saves per product, then price and stock changes for some and deletes for a few (never an
 * aspect after a product's last delete: a shop cannot price a product it does not have). Versions
 * rise per key across the classes, so "newest" is well defined; the expected state follows from them.
 */
function changes(): { messages: ChangeMessage[]; expected: Map<string, Expected> } {
  const random = prng(12);
  const messages: ChangeMessage[] = [];
  const expected = new Map<string, Expected>();
  const at = Date.now();
  let clock = 1_000n;
  const next = () => (clock += 1n);
  for (let i = 0; i < PRODUCTS; i += 1) {
    const id = `L${i}`;
    for (let save = 0; save < 2; save += 1) {
      const version = next();
      const name = `Desk lamp ${i} mark ${save + 1}`;
      const price = Math.round((20 + random() * 200) * 100) / 100;
      const stock = Math.floor(random() * 50);
      const value = productChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: id, source_version: version, occurred_at: at, sku: `DL-${i}`, name, price, currency: 'EUR', qty: stock, stock_status: 'in_stock' });
      messages.push({ type: 'product', key: key(id), value, sourceVersion: version, occurredAt: at });
      expected.set(id, { deleted: false, name, price, stock });
    }
  }
  for (let i = 0; i < PRODUCTS; i += 1) {
    const id = `L${i}`;
    const state = expected.get(id)!;
    if (i % 10 === 3) {
      const version = next();
      messages.push({ type: 'product', key: key(id), value: null, sourceVersion: version, occurredAt: at });
      state.deleted = true;
      continue;
    }
    if (i % 2 === 0) {
      const version = next();
      const price = Math.round((5 + random() * 100) * 100) / 100;
      const value = productPriceChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: id, source_version: version, occurred_at: at, sku: `DL-${i}`, price, currency: 'EUR' });
      messages.push({ type: 'product_price', key: key(id), value, sourceVersion: version, occurredAt: at });
      state.price = price;
    }
    if (i % 3 === 0) {
      const version = next();
      const stock = Math.floor(random() * 500);
      const value = productStockChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: id, source_version: version, occurred_at: at, sku: `DL-${i}`, qty: stock, stock_status: stock > 0 ? 'in_stock' : 'out_of_stock', is_in_stock: stock > 0 });
      messages.push({ type: 'product_stock', key: key(id), value, sourceVersion: version, occurredAt: at });
      state.stock = stock;
    }
  }
  return { messages, expected };
}

describe('the shop push stages under faults', () => {
  let shop: ShopwareTestServer;
  let woo: WooTestServer;
  let harness: PipelineHarness;

  beforeAll(async () => {
    shop = await startShopwareServer({ taxIds: [SHOP_TAX_ID] });
    woo = await startWooServer();
    harness = await PipelineHarness.create('lancedb', {
      RAGSYNC_TENANTS: shopTenants(TENANT, shop, woo, { batchSize: 50 }),
      RAGSYNC_PARTITIONS: '3',
      // A price or stock change of a product not created yet is retried until its product record
      // created it: the ladder must outlast the product lane's own retries under these faults
      // (production's 5m,15m,60m does by far). 157 s of tiers were not enough once, in a CI run
      // on a loaded machine: a stock change reached push-shopware-stock's DLQ.
      RAGSYNC_RETRY_DELAYS: '2s,5s,10s,20s,40s,80s,160s',
      RAGSYNC_BREAKER_THRESHOLD: '5',
      RAGSYNC_BREAKER_OPEN_MS: '3000',
    });
  }, 60_000);

  afterAll(async () => {
    await harness?.close();
    await shop?.close();
    await woo?.close();
  });

  it('ends with the newest version of every class of every product in each shop, after 30 % 503s and 20 s offline', async () => {
    const { messages, expected } = changes();
    // Shopware refuses one product for good (a validation error pointing at its name): it must end
    // in push-shopware's DLQ with Shopware's reason, and nothing else may.
    shop.rejectProductNumber('DL-7', 'name', 'This value is too long for the storefront theme.');
    shop.setFault({ status: 503, probability: 0.3 });
    woo.faults.unavailableRate = 0.3;
    await harness.publish(messages);
    await harness.start({}, PUSH_STAGE_NAMES.filter((name) => name.startsWith('push-shopware') || name.startsWith('push-woocommerce')));

    // WooCommerce offline for 20 s once its first products arrived: several open windows of its
    // circuit, and longer than the first three retry tiers together (2 + 5 + 10 s).
    await waitUntil('first products in WooCommerce', () => woo.allProducts().length > 0, 60_000);
    woo.faults.offline = true;
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    woo.faults.offline = false;

    const wanted = new Map([...expected].filter(([, state]) => !state.deleted).map(([id, s]) => [`DL-${id.slice(1)}`, { name: s.name, stock: s.stock, price: s.price }]));
    const wantedInShopware = new Map([...wanted].filter(([sku]) => sku !== 'DL-7'));
    const shopware = () => new Map(shop.products().map((p) => [p.productNumber, { name: p.name, stock: p.stock, price: (p.price as { gross: number }[])[0]!.gross }]));
    const woocommerce = () => new Map(woo.allProducts().map((p) => [p.sku, { name: p.name, stock: p.stock_quantity, price: Number(p.regular_price) }]));
    const same = (a: Map<string, unknown>, b: Map<string, unknown>) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
    // On a timeout the comparisons below say what differs. The wait outlasts the whole retry
    // ladder above (317 s): a change in its last tier comes back up to that long after it failed.
    await waitUntil('both shops to hold the expected state', () => same(shopware(), wantedInShopware) && same(woocommerce(), wanted), 360_000).catch(() => undefined);
    await harness.settle(60_000).catch(() => undefined);
    const depth = await harness.dlqDepth();
    expect(Object.keys(depth)).toEqual(['push-shopware.dlq']);
    const dead = await readAll(harness.kafka, `${harness.config.topics.prefix}push-shopware.dlq`);
    expect(new Set(dead.map((r) => r.key))).toEqual(new Set([key('L7')]));
    for (const record of dead) {
      expect(record.headers['ragsync-error-class']).toBe('permanent');
      expect(record.headers['ragsync-error-message']).toContain('This value is too long for the storefront theme.');
    }

    // Compared with each server's own view.
    expect(shopware()).toEqual(wantedInShopware);
    expect(woocommerce()).toEqual(wanted);
    expect(shop.violations).toEqual([]);
    expect(woo.authFailures).toEqual([]);

    // Latency from the source was observed per change class and target.
    const metrics = await harness.metrics!.registry.getMetricsAsJSON();
    const latency = metrics.find((m) => m.name === 'ragsync_source_to_target_seconds')!;
    const counts = new Map((latency.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]).filter((v) => v.metricName === 'ragsync_source_to_target_seconds_count').map((v) => [`${v.labels.class}/${v.labels.target}`, v.value]));
    for (const series of ['product/shopware', 'price/shopware', 'stock/shopware', 'product/woocommerce', 'price/woocommerce', 'stock/woocommerce']) expect(counts.get(series), series).toBeGreaterThan(0);
    // Every sync request asked for queued indexing; nothing waits in a DLQ.
    expect(shop.requests.filter((r) => r.path === '/api/_action/sync').every((r) => r.indexingBehavior === 'use-queue-indexing')).toBe(true);
  }, 600_000);
});
