import { MAX_SEARCH_LIMIT, type Criteria, type CriteriaFilter, type SearchResponse, type ShopwareProduct } from '../../connectors/shopware/types.js';
import { CF, productId, readVersion } from './mapping.js';
import type { ShopProduct } from './plan.js';

/**
 * Keys per search. A key matches at most three products (by `ragsync_key`, by its deterministic id,
 * by its SKU), so a page of 500 holds every match of 160 keys.
 */
export const KEYS_PER_SEARCH = 160;

/** What the batch's lookup asks for one key. */
export interface LookupKey {
  key: string;
  /** The SKUs the key's records name (none for a delete). */
  skus: string[];
}

/** The criteria of one lookup: products whose key, id or number is one of the batch's. */
export function lookupCriteria(keys: readonly LookupKey[], page = 1): Criteria {
  const skus = [...new Set(keys.flatMap((k) => k.skus))];
  const queries: CriteriaFilter[] = [
    { type: 'equalsAny', field: `customFields.${CF.key}`, value: keys.map((k) => k.key) },
    { type: 'equalsAny', field: 'id', value: keys.map((k) => productId(k.key)) },
  ];
  if (skus.length > 0) queries.push({ type: 'equalsAny', field: 'productNumber', value: skus });
  return {
    filter: [{ type: 'multi', operator: 'or', queries }],
    includes: { product: ['id', 'productNumber', 'customFields', 'price'] },
    limit: MAX_SEARCH_LIMIT,
    page,
    'total-count-mode': 0,
  };
}

/** A product read back, its guard versions parsed. */
export function toShopProduct(product: ShopwareProduct): ShopProduct {
  const custom = product.customFields ?? {};
  const key = custom[CF.key];
  return {
    id: product.id,
    productNumber: product.productNumber,
    key: typeof key === 'string' ? key : undefined,
    version: readVersion(custom[CF.version]),
    priceVersion: readVersion(custom[CF.priceVersion]),
    stockVersion: readVersion(custom[CF.stockVersion]),
    price: Array.isArray(product.price) ? product.price : undefined,
  };
}

/** The shop's products for a batch's keys: one search per 160 keys (one for a default batch). */
export async function lookupProducts(
  search: (criteria: Criteria) => Promise<SearchResponse<ShopwareProduct>>,
  keys: readonly LookupKey[],
): Promise<ShopProduct[]> {
  const found = new Map<string, ShopProduct>();
  for (let start = 0; start < keys.length; start += KEYS_PER_SEARCH) {
    const slice = keys.slice(start, start + KEYS_PER_SEARCH);
    for (let page = 1; ; page += 1) {
      const { data } = await search(lookupCriteria(slice, page));
      for (const product of data) found.set(product.id, toShopProduct(product));
      if (data.length < MAX_SEARCH_LIMIT) break;
    }
  }
  return [...found.values()];
}

/**
 * The product the shop holds for one record key, read only (`ragsync status <key>`): the one that
 * carries the key in `ragsync_key`, else the one with the key's deterministic id, else one with
 * the SKU that no other key owns. Undefined when the shop has none of them.
 */
export async function lookupKeyProduct(
  search: (criteria: Criteria) => Promise<SearchResponse<ShopwareProduct>>,
  key: string,
  sku?: string,
): Promise<ShopProduct | undefined> {
  const found = await lookupProducts(search, [{ key, skus: sku ? [sku] : [] }]);
  return (
    found.find((p) => p.key === key) ??
    found.find((p) => p.id === productId(key)) ??
    (sku ? found.find((p) => p.productNumber === sku && p.key === undefined) : undefined)
  );
}
