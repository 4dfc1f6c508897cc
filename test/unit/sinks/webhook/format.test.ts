import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../../src/core/errors.js';
import { formatKey } from '../../../../src/core/keys.js';
import type { SinkRecord } from '../../../../src/core/sink.js';
import { batchIdOf, toMagentoItem } from '../../../../src/sinks/webhook/format.js';

const at = Date.UTC(2026, 2, 4, 9, 30, 0);
const rec = (topic: string, type: 'product' | 'category' | 'promotion', id: string, store: number, value: Record<string, unknown> | null, version = 5n): SinkRecord => ({
  topic,
  key: formatKey({ tenant: 'acme', entityType: type, entityId: id, storeId: store }),
  value,
  sourceVersion: version,
  occurredAt: at,
});

describe('a record as a Magento item', () => {
  it('sends a delete without data', () => {
    expect(toMagentoItem(rec('changes.category', 'category', 'c/1', 2, null), 'acme', undefined)).toEqual({
      item: { type: 'category', id: 'c/1', action: 'delete', store_id: 2, updated_at: '2026-03-04T09:30:00.000Z' },
    });
  });

  it('uses Magento\'s encodings for status, stock status and flags', () => {
    const result = toMagentoItem(rec('changes.product', 'product', '7', 1, { sku: 'A', name: 'Alpha', status: 'disabled', stock_status: 'out_of_stock', visibility: 2 }), 'acme', [1]);
    expect((result as { item: { data: Record<string, unknown> } }).item.data).toMatchObject({ sku: 'A', name: 'Alpha', status: 2, stock_status: 0, visibility: 2 });
  });

  it('sends a promotion\'s rule action as simple_action and discount_type', () => {
    const result = toMagentoItem(rec('changes.promotion', 'promotion', 'r', 0, { name: 'Deal', discount_type: 'fixed', discount_action: 'cart_fixed', is_active: false }), 'acme', undefined);
    expect((result as { item: { data: Record<string, unknown> } }).item.data).toMatchObject({ discount_type: 'cart_fixed', simple_action: 'cart_fixed', is_active: 0 });
  });

  it('skips a store outside the receiver\'s stores and the price and stock aspects', () => {
    expect(toMagentoItem(rec('changes.product', 'product', '7', 2, { name: 'x' }), 'acme', [1])).toEqual({ skip: 'store' });
    expect(toMagentoItem(rec('changes.product_price', 'product', '7', 1, { price: 1 }), 'acme', undefined)).toEqual({ skip: 'aspect' });
  });

  it('refuses a record of another tenant or topic', () => {
    expect(() => toMagentoItem(rec('changes.product', 'product', '7', 1, null), 'other', undefined)).toThrow(PermanentError);
    expect(() => toMagentoItem(rec('vectors', 'product', '7', 1, null), 'acme', undefined)).toThrow(/cannot send records of topic vectors/);
  });
});

describe('the batch id', () => {
  const records = [rec('changes.product', 'product', '1', 1, { name: 'a' }), rec('changes.category', 'category', '2', 1, null)];

  it('is the same for the same records and differs for another version or receiver', () => {
    const id = batchIdOf('acme', 'r1', records);
    expect(id).toMatch(/^ragsync-[0-9a-f]{40}$/);
    expect(batchIdOf('acme', 'r1', records.map((r) => ({ ...r })))).toBe(id);
    expect(batchIdOf('acme', 'r2', records)).not.toBe(id);
    expect(batchIdOf('acme', 'r1', [records[0]!, { ...records[1]!, sourceVersion: 6n }])).not.toBe(id);
  });
});
