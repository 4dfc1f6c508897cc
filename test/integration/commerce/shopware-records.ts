import { shopwareTargetSchema, type ShopwareTarget } from '../../../src/config/targets.js';
import { formatKey } from '../../../src/core/keys.js';
import type { SinkRecord } from '../../../src/core/sink.js';
import type { ProductChangeInput, ProductPriceChangeInput, ProductStockChangeInput } from '../../../src/schemas/zod/product.js';
import type { ShopwareTestServer } from '../../support/shopware-server.js';

/** Sample catalogue records for the Shopware sink tests: lamps of a lighting shop. */
export const TENANT = 'lumen';
export const TAX_ID = '4f6a1c0e9b2d47c8a3e5f7091b2c3d4e';
export const CHANNEL_ID = '98432def39fc4624b33213a56b8c944d';
export const USD_ID = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

export function shopwareTarget(server: ShopwareTestServer, overrides: Partial<ShopwareTarget> = {}): ShopwareTarget {
  return shopwareTargetSchema.parse({
    url: server.url,
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    taxId: TAX_ID,
    salesChannels: [{ id: CHANNEL_ID }],
    currencies: { USD: USD_ID },
    ...overrides,
  });
}

export function productKey(entityId: string, storeId = 0): string {
  return formatKey({ tenant: TENANT, entityType: 'product', entityId, storeId });
}

const identity = (entityId: string, version: bigint, storeId: number) => ({
  tenant: TENANT,
  store_id: storeId,
  entity_id: entityId,
  source_version: version,
  occurred_at: 1_767_000_000_000 + Number(version),
});

export function save(entityId: string, version: bigint, fields: Partial<ProductChangeInput> = {}, storeId = 0): SinkRecord<unknown> {
  const value: ProductChangeInput = {
    ...identity(entityId, version, storeId),
    sku: `LMP-${entityId}`,
    name: `Reading lamp ${entityId}`,
    description: '<p>Brass reading lamp with a <strong>linen</strong> shade.</p>',
    status: 'enabled',
    price: 89.9,
    currency: 'EUR',
    qty: 14,
    stock_status: 'in_stock',
    ...fields,
  };
  return { topic: 'changes.product', key: productKey(entityId, storeId), value, sourceVersion: version, occurredAt: value.occurred_at };
}

export function remove(entityId: string, version: bigint): SinkRecord<unknown> {
  return { topic: 'changes.product', key: productKey(entityId), value: null, sourceVersion: version, occurredAt: 1_767_000_000_000 };
}

export function price(entityId: string, version: bigint, amount: number, currency = 'EUR'): SinkRecord<unknown> {
  const value: ProductPriceChangeInput = { ...identity(entityId, version, 0), sku: `LMP-${entityId}`, price: amount, currency };
  return { topic: 'changes.product_price', key: productKey(entityId), value, sourceVersion: version, occurredAt: value.occurred_at };
}

export function stock(entityId: string, version: bigint, qty: number): SinkRecord<unknown> {
  const value: ProductStockChangeInput = {
    ...identity(entityId, version, 0),
    sku: `LMP-${entityId}`,
    qty,
    stock_status: qty > 0 ? 'in_stock' : 'out_of_stock',
    is_in_stock: qty > 0,
  };
  return { topic: 'changes.product_stock', key: productKey(entityId), value, sourceVersion: version, occurredAt: value.occurred_at };
}
