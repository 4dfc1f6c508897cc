import { createHash } from 'node:crypto';

/**
 * The product fields ragsync writes to WooCommerce, as the REST API returns them. The sink stores
 * the fingerprint of what the product looks like after its write in the meta field
 * `ragsync_fingerprint`; the WooCommerce webhook receiver computes the fingerprint of the product a
 * webhook carries and drops it when the two are equal: the change is ragsync's own write coming
 * back, and publishing it would start an echo loop (docs/connectors/woocommerce.md).
 */
export interface WooProductFields {
  name?: string | null;
  sku?: string | null;
  status?: string | null;
  description?: string | null;
  short_description?: string | null;
  regular_price?: string | null;
  sale_price?: string | null;
  date_on_sale_from_gmt?: string | null;
  date_on_sale_to_gmt?: string | null;
  manage_stock?: boolean | null;
  stock_quantity?: number | null;
  stock_status?: string | null;
}

export const FINGERPRINT_META_KEY = 'ragsync_fingerprint';

const FIELDS = [
  'name',
  'sku',
  'status',
  'description',
  'short_description',
  'regular_price',
  'sale_price',
  'date_on_sale_from_gmt',
  'date_on_sale_to_gmt',
  'manage_stock',
  'stock_quantity',
  'stock_status',
] as const satisfies readonly (keyof WooProductFields)[];

/** Empty strings and absent values count as the same (WooCommerce returns "" for an unset price). */
function normalise(value: string | number | boolean | null | undefined): string | number | boolean | null {
  if (value === undefined || value === null || value === '') return null;
  return value;
}

/** SHA-256 (hex) of the written fields in a fixed order: equal products give equal fingerprints. */
export function wooFingerprint(product: WooProductFields): string {
  const canonical = FIELDS.map((field) => normalise(product[field]));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
