import { createHmac, timingSafeEqual } from 'node:crypto';
import { FINGERPRINT_META_KEY, wooFingerprint, type WooProductFields } from '../../connectors/woocommerce/fingerprint.js';

/**
 * Pure helpers of the WooCommerce product webhook (docs/connectors/woocommerce-source.md): the
 * signature, the ping, and the product JSON (REST API v3, what the webhook carries) as the `data`
 * of a product change item in the spellings src/producers/items/values.ts reads.
 */

/**
 * True when `header` is WooCommerce's `X-WC-Webhook-Signature`: base64 of HMAC-SHA256 over the
 * raw body with the webhook's secret (WC_Webhook::generate_signature). Constant-time: both sides
 * are 32-byte digests before they are compared.
 */
export function verifyWooSignature(body: Buffer, header: string | undefined, secret: string): boolean {
  if (header === undefined || !/^[A-Za-z0-9+/]{43}=$/.test(header.trim())) return false;
  const given = Buffer.from(header.trim(), 'base64');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function signWooBody(body: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

/**
 * WooCommerce's ping when a webhook is saved (WC_Webhook::deliver_ping): a form-encoded
 * `webhook_id=<id>` body, unsigned and without topic headers; it must be answered 200 or the
 * webhook is not activated.
 */
export function isPing(body: Buffer, topic: string | undefined): boolean {
  return topic === undefined && body.length <= 64 && /^webhook_id=\d+$/.test(body.toString('latin1').trim());
}

/** `2026-01-02T10:30:00` (WooCommerce's `_gmt` fields carry no zone) as epoch milliseconds, or undefined. */
export function gmtMillis(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)) return undefined;
  const ms = Date.parse(`${value}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The product's id as the entity id: present in every payload, the delete's `{id}` included. */
export function productIdOf(json: Record<string, unknown>): string | undefined {
  const id = json.id;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id);
  if (typeof id === 'string' && /^[1-9]\d{0,18}$/.test(id)) return id;
  return undefined;
}

/** True when the product carries the fingerprint of itself: ragsync's own write, coming back. */
export function isOwnWrite(product: Record<string, unknown>): boolean {
  const meta = Array.isArray(product.meta_data) ? product.meta_data : [];
  const stored = meta.find((m: unknown) => typeof m === 'object' && m !== null && (m as { key?: unknown }).key === FINGERPRINT_META_KEY) as { value?: unknown } | undefined;
  return typeof stored?.value === 'string' && stored.value === wooFingerprint(product as WooProductFields);
}

/** WooCommerce catalog visibility → Magento's 1 not visible, 2 catalog, 3 search, 4 both. */
const VISIBILITY: Record<string, number> = { hidden: 1, catalog: 2, search: 3, visible: 4 };

/** WooCommerce stock status; a product on backorder can be bought, as Magento's in stock. */
const STOCK: Record<string, string> = { instock: 'in_stock', onbackorder: 'in_stock', outofstock: 'out_of_stock' };

const names = (list: unknown): unknown[] =>
  Array.isArray(list) ? list.map((entry) => (typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : entry)) : [];

/** `""` is how WooCommerce says "not set" for prices and dates. */
const orNull = (value: unknown) => (value === '' || value === undefined ? null : value);

/** A `_gmt` date-time's date part for the sale window. */
const datePart = (value: unknown) => (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? value.slice(0, 10) : orNull(value));

/**
 * The product JSON as item data. Values that are not what WooCommerce documents are passed on as
 * they are, so the shared readers refuse them with the field named (`data.regular_price`).
 */
export function productData(p: Record<string, unknown>): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  if (Array.isArray(p.attributes)) {
    for (const a of p.attributes as { name?: unknown; options?: unknown }[]) {
      if (typeof a?.name === 'string' && a.name !== '') attributes[a.name] = Array.isArray(a.options) ? a.options : a.options;
    }
  }
  const brands = names(p.brands);
  const brandAttribute = Object.keys(attributes).find((name) => name.toLowerCase() === 'brand');
  const brand = typeof brands[0] === 'string' ? brands[0] : brandAttribute === undefined ? null : attributes[brandAttribute];
  const status = typeof p.status === 'string' ? (p.status === 'publish' ? 'enabled' : 'disabled') : p.status;
  const visibility = typeof p.catalog_visibility === 'string' ? (VISIBILITY[p.catalog_visibility] ?? null) : null;
  const stock = typeof p.stock_status === 'string' ? (STOCK[p.stock_status] ?? p.stock_status) : null;
  return {
    sku: orNull(p.sku),
    name: p.name,
    description: orNull(p.description),
    short_description: orNull(p.short_description),
    url_key: orNull(p.slug),
    categories: names(p.categories),
    brand: Array.isArray(brand) ? brand.join(', ') : brand,
    attributes,
    image_alt_texts: names(p.images).length === 0 ? [] : (p.images as { alt?: unknown }[]).map((i) => i?.alt).filter((alt) => typeof alt === 'string' && alt !== ''),
    status,
    visibility,
    price: orNull(p.regular_price) ?? orNull(p.price),
    special_price: orNull(p.sale_price),
    special_from_date: datePart(p.date_on_sale_from_gmt),
    special_to_date: datePart(p.date_on_sale_to_gmt),
    qty: p.manage_stock === true ? orNull(p.stock_quantity) : null,
    stock_status: stock,
  };
}
