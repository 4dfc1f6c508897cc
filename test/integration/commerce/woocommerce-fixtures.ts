import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { WoocommerceTarget } from '../../../src/config/targets.js';
import { formatKey } from '../../../src/core/keys.js';
import type { SinkRecord } from '../../../src/core/sink.js';
import type { ProductChange, ProductPriceChange, ProductStockChange } from '../../../src/schemas/zod/product.js';
import type { WooTestServer } from '../../support/woocommerce-server.js';

/** Sample catalogue records for the WooCommerce tests. */
export const TENANT = 'atelier';

export function keyOf(sku: string, storeId = 0, entityType: 'product' | 'category' = 'product'): string {
  return formatKey({ tenant: TENANT, entityType, entityId: sku, storeId });
}

export function productRecord(sku: string, version: bigint, fields: Partial<ProductChange> = {}, storeId = 0): SinkRecord<unknown> {
  const value: ProductChange = {
    tenant: TENANT,
    store_id: storeId,
    entity_id: sku,
    source_version: version,
    occurred_at: 1_767_000_000_000,
    sku,
    name: `Linen cushion ${sku}`,
    description: '<p>Stonewashed linen, 45 × 45 cm.</p>',
    short_description: 'Linen cushion',
    meta_title: null,
    meta_description: null,
    url_key: null,
    categories: [],
    brand: null,
    attributes: {},
    image_alt_texts: [],
    status: 'enabled',
    visibility: 4,
    price: 29.9,
    special_price: null,
    special_from_date: null,
    special_to_date: null,
    currency: 'EUR',
    qty: 12,
    stock_status: 'in_stock',
    ...fields,
  };
  return { topic: 'changes.product', key: keyOf(sku, storeId), value, sourceVersion: version, occurredAt: value.occurred_at };
}

export function priceRecord(sku: string, version: bigint, price: number, special: Partial<ProductPriceChange> = {}): SinkRecord<unknown> {
  const value: ProductPriceChange = { tenant: TENANT, store_id: 0, entity_id: sku, source_version: version, occurred_at: 1_767_000_000_000, sku, price, special_price: null, special_from_date: null, special_to_date: null, currency: 'EUR', ...special };
  return { topic: 'changes.product_price', key: keyOf(sku), value, sourceVersion: version, occurredAt: value.occurred_at };
}

export function stockRecord(sku: string, version: bigint, qty: number): SinkRecord<unknown> {
  const value: ProductStockChange = { tenant: TENANT, store_id: 0, entity_id: sku, source_version: version, occurred_at: 1_767_000_000_000, sku, qty, stock_status: qty > 0 ? 'in_stock' : 'out_of_stock', is_in_stock: qty > 0 };
  return { topic: 'changes.product_stock', key: keyOf(sku), value, sourceVersion: version, occurredAt: value.occurred_at };
}

export function deleteRecord(sku: string, version: bigint): SinkRecord<unknown> {
  return { topic: 'changes.product', key: keyOf(sku), value: null, sourceVersion: version, occurredAt: 1_767_000_000_000 };
}

export function targetOf(server: WooTestServer, overrides: Partial<WoocommerceTarget> = {}): WoocommerceTarget {
  return {
    url: server.url,
    consumerKey: server.consumerKey,
    consumerSecret: server.consumerSecret,
    auth: 'auto',
    allowManualOffers: false,
    stores: [0],
    batchSize: 50,
    timeoutMs: 5_000,
    sourceStoreId: 0,
    ...overrides,
  };
}

/** A pino logger whose lines are kept, to check what logs hold. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}
