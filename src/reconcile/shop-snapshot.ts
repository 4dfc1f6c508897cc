import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { ShopwareClient } from '../connectors/shopware/client.js';
import { WooClient } from '../connectors/woocommerce/client.js';
import { lookupProducts, type LookupKey } from '../sinks/shopware/lookup.js';
import { productId } from '../sinks/shopware/mapping.js';
import { IdMap } from '../sinks/woocommerce/id-map.js';
import { storedVersions } from '../sinks/woocommerce/payload.js';
import { findKeyProduct } from '../sinks/woocommerce/shop-lookup.js';
import type { SourceEntry } from './types.js';

/** What one shop holds for the source's product keys that are pushed to it. */
export interface ShopSnapshot {
  /** `shopware:<host>` or `woocommerce:<host>`. */
  target: string;
  tenant: string;
  /** Per key the shop is asked about: the product version it holds, or null when it has no product. */
  products: Map<string, bigint | null>;
}

export interface ShopSnapshotDeps {
  /** WooCommerce's key ↔ id mapping lives in Redis. */
  redis?: Redis;
  fetch?: typeof fetch;
  onProgress?: (done: number, total: number) => void;
}

const sku = (entry: SourceEntry) => {
  const value = entry.change.value as { sku?: unknown } | null;
  return typeof value?.sku === 'string' && value.sku !== '' ? value.sku : undefined;
};

/**
 * The shops' side, read the way the push sinks and `status <key>` find a key's product: for each
 * tenant with a Shopware or WooCommerce target, the product keys of the source that go to that shop
 * (products of the shop's stores), and the product version the shop holds for each (from its
 * custom fields or meta data). Shopware is asked 160 keys per search; WooCommerce one key at a
 * time, through the id mapping. A shop's products that no source key names are not listed: the
 * shop APIs offer no cheap way to list them.
 */
export async function readShopSnapshots(config: Pick<Config, 'tenants' | 'redis'>, source: ReadonlyMap<string, SourceEntry>, deps: ShopSnapshotDeps = {}): Promise<ShopSnapshot[]> {
  const snapshots: ShopSnapshot[] = [];
  const byTenant = new Map<string, SourceEntry[]>();
  for (const entry of source.values()) if (entry.entityType === 'product') byTenant.set(entry.tenant, [...(byTenant.get(entry.tenant) ?? []), entry]);
  const total = [...byTenant.entries()].reduce((sum, [tenant, entries]) => sum + entries.length * (Number(config.tenants[tenant]?.targets.shopware !== undefined) + Number(config.tenants[tenant]?.targets.woocommerce !== undefined)), 0);
  let done = 0;
  const step = (n: number) => deps.onProgress?.((done += n), total);
  for (const [tenant, entries] of byTenant) {
    const targets = config.tenants[tenant]?.targets;
    if (targets?.shopware) {
      const target = targets.shopware;
      const client = new ShopwareClient({ url: target.url, clientId: target.clientId, clientSecret: target.clientSecret, timeoutMs: target.timeoutMs, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
      const pushed = entries.filter((e) => target.stores.includes(e.storeId));
      const keys: LookupKey[] = pushed.map((e) => ({ key: e.key, skus: sku(e) ? [sku(e)!] : [] }));
      const found = await lookupProducts((criteria) => client.searchProducts(criteria), keys);
      const products = new Map<string, bigint | null>();
      for (const entry of pushed) {
        const s = sku(entry);
        const product = found.find((p) => p.key === entry.key) ?? found.find((p) => p.id === productId(entry.key)) ?? (s ? found.find((p) => p.productNumber === s && p.key === undefined) : undefined);
        products.set(entry.key, product ? (product.version ?? 0n) : null);
      }
      step(entries.length);
      snapshots.push({ target: `shopware:${client.host}`, tenant, products });
    }
    if (targets?.woocommerce) {
      if (!deps.redis) throw new Error('reading WooCommerce needs Redis (its key ↔ id mapping)');
      const client = new WooClient(targets.woocommerce, { ...(deps.fetch ? { fetch: deps.fetch } : {}) });
      const ids = new IdMap(deps.redis, config.redis.keyPrefix, client.host);
      const stores = targets.woocommerce.stores;
      const products = new Map<string, bigint | null>();
      for (const entry of entries) {
        if (stores.includes(entry.storeId)) {
          const value = entry.change.value as { sku?: string; attributes?: { parent_sku?: string } | null } | null;
          const parentSku = value?.attributes?.parent_sku || undefined;
          const found = await findKeyProduct(client, ids, entry.key, sku(entry) ?? parseEntityId(entry.key), parentSku);
          products.set(entry.key, found ? (storedVersions(found.product).product ?? 0n) : null);
        }
        step(1);
      }
      snapshots.push({ target: `woocommerce:${client.host}`, tenant, products });
    }
  }
  return snapshots;
}

const parseEntityId = (key: string) => decodeURIComponent(key.split('/')[2]!);
