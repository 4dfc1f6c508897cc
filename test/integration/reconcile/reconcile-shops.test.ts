import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShopwareClient } from '../../../src/connectors/shopware/client.js';
import type { ReconcileReport } from '../../../src/reconcile/types.js';
import { CF, productId } from '../../../src/sinks/shopware/mapping.js';
import { runCli } from '../../support/cli.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { SHOP_TAX_ID, shopTenants } from '../../support/shop-tenants.js';
import { startShopwareServer, type ShopwareTestServer } from '../../support/shopware-server.js';
import { startWooServer, type WooTestServer } from '../../support/woocommerce-server.js';

/**
 * Reconcile with shop targets: a tenant whose products go to a (loopback) Shopware and WooCommerce
 * shop. After the pipeline pushed them, Shopware is changed through its own Admin API behind the
 * pipeline's back (a product deleted, one set back to an older version). Reconcile names exactly
 * those, `--repair` republishes them and the push stage writes them back.
 */
const TENANT = 'reconshop';
const key = (id: string) => `${TENANT}/product/${encodeURIComponent(id)}/0`;
const saveLine = (id: string, version: number) =>
  JSON.stringify({ type: 'product', tenant: TENANT, store_id: 0, id, action: 'save', source_version: version, data: { sku: id, name: `Product ${id}`, description: `<p>${id}, for the balcony.</p>`, price: 19.5, qty: 4, is_in_stock: true } });

describe('reconcile with shop targets', () => {
  let shop: ShopwareTestServer;
  let woo: WooTestServer;
  let harness: PipelineHarness;
  let env: Record<string, string>;
  const ids = { 'PLANTER-1': 1000, 'TRELLIS-2': 2000, 'LANTERN-3': 3000 };

  const reconcile = async (...args: string[]) => {
    const result = await runCli(['reconcile', 'changes', '--json', ...args], env);
    let report: ReconcileReport;
    try {
      report = JSON.parse(result.out) as ReconcileReport;
    } catch {
      throw new Error(`reconcile printed no JSON (exit ${result.code}): ${result.err || result.out}`);
    }
    return { ...result, report };
  };

  beforeAll(async () => {
    shop = await startShopwareServer({ taxIds: [SHOP_TAX_ID] });
    woo = await startWooServer();
    const tenants = shopTenants(TENANT, shop, woo);
    harness = await PipelineHarness.create('lancedb', { RAGSYNC_TENANTS: tenants });
    env = {
      RAGSYNC_TENANTS: tenants,
      RAGSYNC_TOPIC_PREFIX: harness.config.topics.prefix,
      RAGSYNC_REDIS_PREFIX: harness.config.redis.keyPrefix,
      LANCEDB_PATH: harness.config.store.lancedbPath,
      RAGSYNC_COLLECTION: harness.config.store.collection,
      RAGSYNC_PARTITIONS: '2',
      QDRANT_URL: '',
      EMBEDDER: 'hashing',
      LOG_LEVEL: 'silent',
    };
    await harness.start();
    await harness.publishLines(Object.entries(ids).map(([id, version]) => saveLine(id, version)));
    await harness.settle();
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
    await shop?.close();
    await woo?.close();
  });

  it('counts each shop in sync once the push stages ran', async () => {
    const { code, report, err } = await reconcile();
    expect(code, err).toBe(0);
    expect(report.shops?.map((s) => [s.target.split(':')[0], s.tenant, s.source, s.found, s.inSync])).toEqual([
      ['shopware', TENANT, 3, 3, 3],
      ['woocommerce', TENANT, 3, 3, 3],
    ]);
  });

  describe('when Shopware was changed behind the pipeline', () => {
    beforeAll(async () => {
      const client = new ShopwareClient({ url: shop.url, clientId: shop.clientId, clientSecret: shop.clientSecret, timeoutMs: 10_000 });
      expect(shop.product(productId(key('PLANTER-1')))).toBeDefined();
      await client.sync({
        gone: { entity: 'product', action: 'delete', payload: [{ id: productId(key('PLANTER-1')) }] },
        older: { entity: 'product', action: 'upsert', payload: [{ id: productId(key('TRELLIS-2')), customFields: { ...shop.product(productId(key('TRELLIS-2')))!.customFields, [CF.version]: '1500' } }] },
      });
      expect(shop.product(productId(key('PLANTER-1')))).toBeUndefined();
    });

    it('reports the deleted product as missing and the older one as stale, for that shop only', async () => {
      const { code, report, err } = await reconcile();
      expect(code, err).toBe(1);
      const target = report.shops!.find((s) => s.target.startsWith('shopware:'))!.target;
      expect(report.drift).toEqual([
        { target, key: key('PLANTER-1'), tenant: TENANT, entityType: 'product', kind: 'missing', sourceVersion: '1000', storeVersion: null },
        { target, key: key('TRELLIS-2'), tenant: TENANT, entityType: 'product', kind: 'stale', reason: 'older', sourceVersion: '2000', storeVersion: '1500' },
      ]);
      expect(report.totals).toMatchObject({ inSync: 3, missing: 0, stale: 0, extra: 0 });
    });

    it('repairs the shop with --repair through the push stage', async () => {
      const { code, report, err } = await reconcile('--repair');
      expect(code, err).toBe(1);
      expect(report.repair).toEqual({ republished: 2, deleted: 0, raised: 0, refused: [] });
      await harness.settle();
      expect(shop.product(productId(key('PLANTER-1')))?.customFields?.[CF.version]).toBe('1000');
      expect(shop.product(productId(key('TRELLIS-2')))?.customFields?.[CF.version]).toBe('2000');
      const again = await reconcile();
      expect(again.code, again.err).toBe(0);
      expect(again.report.drift).toEqual([]);
    });
  });
});
