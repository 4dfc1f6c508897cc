import { describe, expect, it } from 'vitest';
import { buildPayload, guard, priceString } from '../../../../src/sinks/woocommerce/payload.js';
import type { WooProduct } from '../../../../src/connectors/woocommerce/types.js';

const shopProduct = (meta: Record<string, string>, fields: Partial<WooProduct> = {}): WooProduct => ({
  id: 7,
  sale_price: '',
  meta_data: Object.entries(meta).map(([key, value]) => ({ key, value })),
  ...fields,
});

describe('the WooCommerce version guard', () => {
  it('lets a product record write only the classes it is not older than', () => {
    expect(guard('product', 10n, { product: 5n, price: 20n, stock: 10n })).toEqual({ content: true, price: false, stock: true });
    expect(guard('product', 4n, { product: 5n })).toBeNull();
  });

  it('judges price and stock records by their own class version only', () => {
    expect(guard('price', 3n, { product: 50n, price: 2n })).toEqual({ content: false, price: true, stock: false });
    expect(guard('stock', 3n, { stock: 4n })).toBeNull();
    expect(guard('stock', 4n, { stock: 4n })).toEqual({ content: false, price: false, stock: true });
  });
});

describe('priceString', () => {
  it('writes decimal strings without float noise and "" for none', () => {
    expect([priceString(19.9), priceString(20), priceString(0.1 + 0.2), priceString(null)]).toEqual(['19.9', '20', '0.3', '']);
  });
});

describe('buildPayload', () => {
  const value = { sku: 'CUP-1', name: 'Cup', price: 12, special_price: 9, special_from_date: '2026-04-01', special_to_date: null, qty: 4, stock_status: 'in_stock' as const };

  it('keeps a sale price ragsync did not write when manual offers are allowed', () => {
    const current = shopProduct({ ragsync_sale_price: '' }, { sale_price: '8.5' });
    const kept = buildPayload({ cls: 'price', key: 'k', version: 2n, value, variation: false, current, allowManualOffers: true })!;
    expect(kept.keptManualOffer).toBe(true);
    expect(kept.fields).not.toHaveProperty('sale_price');
    expect(kept.fields.meta_data).not.toContainEqual(expect.objectContaining({ key: 'ragsync_sale_price' }));
    const overwritten = buildPayload({ cls: 'price', key: 'k', version: 2n, value, variation: false, current, allowManualOffers: false })!;
    expect(overwritten.fields).toMatchObject({ sale_price: '9', date_on_sale_from_gmt: '2026-04-01T00:00:00', date_on_sale_to_gmt: null });
  });

  it('writes its own earlier sale price over again', () => {
    const current = shopProduct({ ragsync_sale_price: '8.5' }, { sale_price: '8.5' });
    expect(buildPayload({ cls: 'price', key: 'k', version: 2n, value, variation: false, current, allowManualOffers: true })!.fields.sale_price).toBe('9');
  });
});
