import type { WooClient } from '../../connectors/woocommerce/client.js';
import type { WooProduct } from '../../connectors/woocommerce/types.js';
import type { IdMap, ShopLocation } from './id-map.js';
import { metaValue, META } from './payload.js';

/** Requests per lookup are bounded by WooCommerce's `per_page` maximum. */
const PAGE = 100;

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/** The collection path of products, or of the variations of `parent`. */
export function collectionPath(parent: number | undefined): string {
  return parent === undefined ? '/products' : `/products/${parent}/variations`;
}

/** Products (or variations of `parent`) by id, `include=<ids>`; absent ids are simply missing. */
export async function productsById(client: WooClient, parent: number | undefined, ids: readonly number[]): Promise<Map<number, WooProduct>> {
  const found = new Map<number, WooProduct>();
  for (const part of chunks([...new Set(ids)], PAGE)) {
    const response = await client.get<WooProduct[]>(collectionPath(parent), { include: part.join(','), per_page: PAGE });
    for (const product of response.body ?? []) found.set(product.id, product);
  }
  return found;
}

/**
 * Products (or variations of `parent`) by exact SKU, `sku=<comma list>`. A SKU holding a comma
 * cannot be part of a list (WooCommerce splits it), so it is asked for alone.
 */
export async function productsBySku(client: WooClient, parent: number | undefined, skus: readonly string[]): Promise<Map<string, WooProduct>> {
  const found = new Map<string, WooProduct>();
  const unique = [...new Set(skus.filter((sku) => sku !== ''))];
  const plain = unique.filter((sku) => !sku.includes(','));
  const queries = [...chunks(plain, PAGE).map((part) => part.join(',')), ...unique.filter((sku) => sku.includes(','))];
  for (const sku of queries) {
    const response = await client.get<WooProduct[]>(collectionPath(parent), { sku, per_page: PAGE });
    for (const product of response.body ?? []) if (product.sku) found.set(product.sku, product);
  }
  return found;
}

/** Where a record key's product was found, read only (`ragsync status <key>`). */
export interface KeyProduct {
  product: WooProduct;
  location: ShopLocation;
  /** By the cached key ↔ id mapping, or by SKU in the shop. */
  via: 'id-map' | 'sku';
}

/**
 * The product the shop holds for one record key, the way the sink finds it but without writing
 * anything (no mapping learned, no parent remembered): by the cached mapping, else by SKU (under
 * the parent named by `parentSku` for a variation), accepting a product whose `ragsync_key` is the
 * key or unset. Undefined when the shop has none.
 */
export async function findKeyProduct(client: WooClient, ids: IdMap, key: string, sku: string, parentSku?: string): Promise<KeyProduct | undefined> {
  const location = (await ids.locations([key])).get(key);
  if (location) {
    const product = (await productsById(client, location.parent, [location.id])).get(location.id);
    if (product) return { product, location, via: 'id-map' };
  }
  let parent: number | undefined;
  if (parentSku !== undefined) {
    parent = (await ids.parentIds([parentSku])).get(parentSku) ?? (await productsBySku(client, undefined, [parentSku])).get(parentSku)?.id;
    if (parent === undefined) return undefined;
  }
  const product = (await productsBySku(client, parent, [sku])).get(sku);
  if (!product) return undefined;
  const owner = metaValue(product, META.key);
  if (owner !== undefined && owner !== key) return undefined;
  return { product, location: parent === undefined ? { id: product.id } : { id: product.id, parent }, via: 'sku' };
}
