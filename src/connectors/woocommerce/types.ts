import type { WooErrorBody } from './errors.js';

/** A `meta_data` entry as WooCommerce returns it (`id` only on read) and takes it (by key). */
export interface WooMeta {
  id?: number;
  key: string;
  value: unknown;
}

/** The product fields ragsync reads and writes (REST v3, products and variations). */
export interface WooProduct {
  id: number;
  type?: string;
  parent_id?: number;
  name?: string;
  sku?: string;
  status?: string;
  description?: string;
  short_description?: string;
  regular_price?: string;
  sale_price?: string;
  date_on_sale_from_gmt?: string | null;
  date_on_sale_to_gmt?: string | null;
  manage_stock?: boolean | 'parent';
  stock_quantity?: number | null;
  stock_status?: string;
  meta_data?: WooMeta[];
}

/** What `/products/batch` (and the variations batch) takes: at most 100 items in all. */
export interface WooBatchRequest {
  create?: Record<string, unknown>[];
  update?: (Record<string, unknown> & { id: number })[];
  delete?: number[];
}

/** One item of a batch answer: the product, or `{id, error}` for an item that failed. */
export type WooBatchItem = (Partial<WooProduct> & { id: number; error?: undefined }) | { id: number; error: WooErrorBody };

export interface WooBatchResponse {
  create?: WooBatchItem[];
  update?: WooBatchItem[];
  delete?: WooBatchItem[];
}

export interface WooOrderLine {
  id: number;
  name?: string;
  sku?: string | null;
  quantity: number;
  price?: number | string;
  subtotal?: string;
  total?: string;
}

/** The order fields the order pull reads; names, addresses and e-mails are never read. */
export interface WooOrder {
  id: number;
  number?: string;
  status: string;
  currency: string;
  total: string;
  total_tax?: string;
  shipping_total?: string;
  discount_total?: string;
  customer_id?: number;
  date_created_gmt: string;
  date_modified_gmt: string;
  line_items?: WooOrderLine[];
}
