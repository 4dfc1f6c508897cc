import { describe, expect, it } from 'vitest';
import { parseKey } from '../../../../src/core/keys.js';
import { ERP_CHANNEL_NAMES } from '../../../../src/producers/erp/channels.js';
import { parseErpEvent } from '../../../../src/producers/erp/event.js';

const options = { tenant: 'acme', storesOf: (t: string) => (t === 'acme' ? [1, 2] : undefined), defaultCurrency: 'EUR', fallbackMillis: 1_000 };

describe('parseErpEvent', () => {
  it('routes each of the ERP handler channels to a change type', () => {
    expect(ERP_CHANNEL_NAMES).toEqual(expect.arrayContaining([
      'inventory.stock_changed', 'inventory.stock_updated', 'pricing.price_changed', 'pricing.price_updated',
      'product.updated', 'product.created', 'product.category_changed', 'product.image_added', 'product.image_updated',
      'category.created', 'category.updated',
    ]));
  });

  describe('when a flat stock event arrives', () => {
    const result = parseErpEvent('inventory.stock_changed', JSON.stringify({ sku: 'ABC123', store_id: 1, qty: 0, occurred_at: '2026-01-02T10:30:00Z' }), options);
    it('becomes a product_stock change keyed like the product, versioned by its time', () => {
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const [message] = result.messages;
      expect(message!.type).toBe('product_stock');
      expect(parseKey(message!.key)).toEqual({ tenant: 'acme', entityType: 'product', entityId: 'ABC123', storeId: 1 });
      expect(message!.sourceVersion).toBe(BigInt(Date.UTC(2026, 0, 2, 10, 30)) * 1_000_000n);
      expect(message!.value).toMatchObject({ sku: 'ABC123', qty: 0, stock_status: 'out_of_stock', is_in_stock: false });
    });
  });

  it('fills the default currency of a price event and takes the event version', () => {
    const result = parseErpEvent('pricing.price_updated', JSON.stringify({ sku: 'A', store_id: 2, version: 77, data: { price: '12.50' } }), options);
    expect(result.ok && [result.messages[0]!.sourceVersion, result.messages[0]!.value]).toEqual([77n, expect.objectContaining({ price: 12.5, currency: 'EUR' })]);
  });

  it('turns a deleted category with store 0 into a tombstone per store', () => {
    const result = parseErpEvent('category.deleted', JSON.stringify({ category_id: 12 }), options);
    expect(result.ok && result.messages.map((m) => [m.type, parseKey(m.key).storeId, m.value])).toEqual([['category', 1, null], ['category', 2, null]]);
  });

  it('rejects a partial product, an unknown event and an unconfigured tenant with reasons', () => {
    const partial = parseErpEvent('product.category_changed', JSON.stringify({ sku: 'A', categories: ['X'] }), options);
    expect(!partial.ok && partial.issues).toEqual([{ path: 'data.name', message: 'is required' }]);
    expect(parseErpEvent('order.created', '{}', options).ok).toBe(false);
    const stranger = parseErpEvent('product.updated', JSON.stringify({ tenant: 'other', sku: 'A', name: 'N' }), options);
    expect(!stranger.ok && stranger.issues[0]!.message).toContain('not configured');
  });
});
