import { describe, expect, it } from 'vitest';
import { gmtMillis, isPing, productData, signWooBody, verifyWooSignature } from '../../../../src/producers/woocommerce/webhook-product.js';

describe('the WooCommerce signature', () => {
  const body = Buffer.from('{"id":5}');
  it('accepts base64 HMAC-SHA256 of the raw body and nothing else', () => {
    expect(verifyWooSignature(body, signWooBody(body, 's3cret'), 's3cret')).toBe(true);
    expect(verifyWooSignature(body, signWooBody(body, 'other'), 's3cret')).toBe(false);
    expect(verifyWooSignature(body, undefined, 's3cret')).toBe(false);
    expect(verifyWooSignature(body, 'sha256=abc', 's3cret')).toBe(false);
  });
});

describe('the ping', () => {
  it('is an unsigned webhook_id form body without a topic', () => {
    expect(isPing(Buffer.from('webhook_id=42'), undefined)).toBe(true);
    expect(isPing(Buffer.from('webhook_id=42'), 'product.updated')).toBe(false);
    expect(isPing(Buffer.from('{"id":42}'), undefined)).toBe(false);
  });
});

describe('the product data', () => {
  it('maps prices, stock, status and visibility', () => {
    const data = productData({ id: 3, name: 'N', sku: '', status: 'private', catalog_visibility: 'search', regular_price: '', price: '12.5', sale_price: '', manage_stock: false, stock_quantity: 4, stock_status: 'onbackorder', date_on_sale_to_gmt: '2026-05-01T23:59:59' });
    expect(data).toMatchObject({ sku: null, status: 'disabled', visibility: 3, price: '12.5', special_price: null, qty: null, stock_status: 'in_stock', special_to_date: '2026-05-01' });
  });

  it('reads _gmt times as UTC', () => {
    expect(gmtMillis('2026-02-14T08:15:30')).toBe(Date.UTC(2026, 1, 14, 8, 15, 30));
    expect(gmtMillis('yesterday')).toBeUndefined();
  });
});
