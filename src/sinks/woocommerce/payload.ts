import { wooFingerprint, FINGERPRINT_META_KEY, type WooProductFields } from '../../connectors/woocommerce/fingerprint.js';
import type { WooProduct } from '../../connectors/woocommerce/types.js';

/**
 * Pure mapping from ragsync change values to WooCommerce REST payloads, and the version guard read
 * from the product's `meta_data`. No I/O: the sink reads the shop, asks these functions what to
 * send, and sends it.
 */

export const META = {
  key: 'ragsync_key',
  version: 'ragsync_version',
  priceVersion: 'ragsync_price_version',
  stockVersion: 'ragsync_stock_version',
  salePrice: 'ragsync_sale_price',
  fingerprint: FINGERPRINT_META_KEY,
} as const;

/** Which fields a record writes: a whole product, its price fields or its stock fields. */
export type FieldClass = 'product' | 'price' | 'stock';

export const CLASS_OF_TOPIC: Readonly<Record<string, FieldClass>> = {
  'changes.product': 'product',
  'changes.product_price': 'price',
  'changes.product_stock': 'stock',
};

/** The parts of a product, price or stock value the mapping reads (src/schemas/zod/product.ts). */
export interface ChangeFields {
  sku?: string | null;
  name?: string;
  description?: string | null;
  short_description?: string | null;
  status?: 'enabled' | 'disabled';
  attributes?: Record<string, string>;
  price?: number | null;
  special_price?: number | null;
  special_from_date?: string | null;
  special_to_date?: string | null;
  qty?: number | null;
  stock_status?: 'in_stock' | 'out_of_stock' | null;
}

/** A record is a variation when `attributes.parent_sku` names its parent product's SKU. */
export function parentSkuOf(value: ChangeFields | null): string | undefined {
  const parent = value?.attributes?.parent_sku;
  return parent !== undefined && parent !== '' ? parent : undefined;
}

export function metaValue(product: WooProduct | undefined, key: string): string | undefined {
  const entry = product?.meta_data?.find((m) => m.key === key);
  return entry === undefined || entry.value === null || entry.value === undefined ? undefined : String(entry.value);
}

function versionMeta(product: WooProduct | undefined, key: string): bigint | undefined {
  const text = metaValue(product, key);
  return text !== undefined && /^-?[0-9]+$/.test(text) ? BigInt(text) : undefined;
}

/** The versions the shop holds for each field class (absent: never written by ragsync). */
export interface StoredVersions {
  product?: bigint;
  price?: bigint;
  stock?: bigint;
}

export function storedVersions(product: WooProduct | undefined): StoredVersions {
  return { product: versionMeta(product, META.version), price: versionMeta(product, META.priceVersion), stock: versionMeta(product, META.stockVersion) };
}

/** Which classes a record of `cls` at `version` may write over what the shop holds; null = stale. */
export function guard(cls: FieldClass, version: bigint, stored: StoredVersions): { content: boolean; price: boolean; stock: boolean } | null {
  const notOlder = (held: bigint | undefined) => held === undefined || version >= held;
  if (cls === 'product') {
    if (!notOlder(stored.product)) return null;
    return { content: true, price: notOlder(stored.price), stock: notOlder(stored.stock) };
  }
  const held = cls === 'price' ? stored.price : stored.stock;
  if (!notOlder(held)) return null;
  return { content: false, price: cls === 'price', stock: cls === 'stock' };
}

/** A price as WooCommerce takes it: a decimal string, "" for none. */
export function priceString(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '';
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(6)));
}

const startOfDay = (date: string | null | undefined) => (date ? `${date}T00:00:00` : null);
const endOfDay = (date: string | null | undefined) => (date ? `${date}T23:59:59` : null);

export function contentFields(value: ChangeFields, variation: boolean): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    sku: value.sku ?? '',
    description: value.description ?? '',
    status: value.status === 'disabled' ? (variation ? 'private' : 'draft') : 'publish',
  };
  // A variation's name is made by WooCommerce from its parent and attributes.
  if (!variation) {
    fields.name = value.name ?? '';
    fields.short_description = value.short_description ?? '';
  }
  return fields;
}

export function priceFields(value: ChangeFields): Record<string, unknown> {
  const sale = priceString(value.special_price);
  return {
    regular_price: priceString(value.price),
    sale_price: sale,
    date_on_sale_from_gmt: sale === '' ? null : startOfDay(value.special_from_date),
    date_on_sale_to_gmt: sale === '' ? null : endOfDay(value.special_to_date),
  };
}

/**
 * Stock as WooCommerce keeps it: managed with an integer quantity (fractions rounded down) when a
 * quantity is known, and the status WooCommerce itself computes for managed stock.
 */
export function stockFields(value: ChangeFields): Record<string, unknown> {
  if (value.qty === null || value.qty === undefined) {
    return { manage_stock: false, stock_status: value.stock_status === 'out_of_stock' ? 'outofstock' : 'instock' };
  }
  const quantity = Math.floor(value.qty);
  return { manage_stock: true, stock_quantity: quantity, stock_status: quantity > 0 ? 'instock' : 'outofstock' };
}

/** True when the shop holds a sale price ragsync did not write (the manual offer rule). */
export function hasManualOffer(current: WooProduct | undefined): boolean {
  const shopSale = current?.sale_price ?? '';
  if (shopSale === '') return false;
  return shopSale !== (metaValue(current, META.salePrice) ?? '');
}

export interface PayloadInput {
  cls: FieldClass;
  key: string;
  version: bigint;
  value: ChangeFields;
  variation: boolean;
  current: WooProduct | undefined;
  allowManualOffers: boolean;
}

export interface Payload {
  /** The fields to send (without `id`), `meta_data` included. */
  fields: Record<string, unknown>;
  /** The shop's manual sale price was kept. */
  keptManualOffer: boolean;
  /** ragsync wrote the sale price. */
  wroteSalePrice: boolean;
}

const FINGERPRINTED: readonly (keyof WooProductFields)[] = [
  'name', 'sku', 'status', 'description', 'short_description', 'regular_price', 'sale_price',
  'date_on_sale_from_gmt', 'date_on_sale_to_gmt', 'manage_stock', 'stock_quantity', 'stock_status',
];

/** The fingerprint of the product as it will look once `fields` are written over `current`. */
export function fingerprintAfter(current: WooProduct | undefined, fields: Record<string, unknown>): string {
  const after: Record<string, unknown> = {};
  for (const name of FINGERPRINTED) after[name] = name in fields ? fields[name] : current?.[name as keyof WooProduct];
  if (after.manage_stock !== true) after.stock_quantity = null;
  return wooFingerprint(after as WooProductFields);
}

/** What to send for one record the guard let through, or null when it is stale. */
export function buildPayload(input: PayloadInput): Payload | null {
  const allowed = guard(input.cls, input.version, storedVersions(input.current));
  if (allowed === null) return null;
  const fields: Record<string, unknown> = {};
  const meta: { key: string; value: string }[] = [{ key: META.key, value: input.key }];
  let keptManualOffer = false;
  let wroteSalePrice = false;
  if (allowed.content) {
    Object.assign(fields, contentFields(input.value, input.variation));
    meta.push({ key: META.version, value: input.version.toString() });
  }
  if (allowed.price) {
    const price = priceFields(input.value);
    if (input.allowManualOffers && hasManualOffer(input.current)) {
      keptManualOffer = true;
      delete price.sale_price;
      delete price.date_on_sale_from_gmt;
      delete price.date_on_sale_to_gmt;
    } else {
      wroteSalePrice = true;
      meta.push({ key: META.salePrice, value: price.sale_price as string });
    }
    Object.assign(fields, price);
    meta.push({ key: META.priceVersion, value: input.version.toString() });
  }
  if (allowed.stock) {
    Object.assign(fields, stockFields(input.value));
    meta.push({ key: META.stockVersion, value: input.version.toString() });
  }
  meta.push({ key: META.fingerprint, value: fingerprintAfter(input.current, fields) });
  fields.meta_data = meta;
  return { fields, keptManualOffer, wroteSalePrice };
}
