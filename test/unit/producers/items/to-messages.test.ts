import { describe, expect, it } from 'vitest';
import { parseKey } from '../../../../src/core/keys.js';
import { HEADERS } from '../../../../src/core/records.js';
import { parseChangeItem, type ChangeItem } from '../../../../src/producers/items/change-item.js';
import { itemToMessages, storesFor } from '../../../../src/producers/items/to-messages.js';

const context = { tenant: 'acme', stores: [1, 2], sourceVersion: 42n, occurredAt: 1_767_349_800_000 };

function item(raw: unknown): ChangeItem {
  const parsed = parseChangeItem(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.item;
}

describe('storesFor', () => {
  it('expands store 0 to every configured store', () => {
    expect(storesFor(0, [1, 2])).toEqual([1, 2]);
  });
  it('keeps store 0 when the tenant is configured with store 0', () => {
    expect(storesFor(0, [0])).toEqual([0]);
  });
  it('keeps any other store as it is', () => {
    expect(storesFor(3, [1, 2])).toEqual([3]);
  });
});

describe('itemToMessages', () => {
  describe('when a product is saved with Magento spellings', () => {
    const result = itemToMessages(
      item({
        type: 'product', id: '123', action: 'save', store_id: 1,
        data: { sku: 'SKU-1', name: 'Trail shoe', price: '89.90', status: 2, visibility: '4', categories: ['Shoes', 'Trail'], attributes: { brand: 'Peakline', color: ['Red', 'Blue'] }, qty: 7 },
      }),
      context,
    );

    it('fills the common fields and maps the data', () => {
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const [message] = result.messages;
      expect(parseKey(message!.key)).toEqual({ tenant: 'acme', entityType: 'product', entityId: '123', storeId: 1 });
      expect(message!.value).toMatchObject({
        tenant: 'acme', store_id: 1, entity_id: '123', source_version: 42n, occurred_at: context.occurredAt,
        sku: 'SKU-1', name: 'Trail shoe', price: 89.9, status: 'disabled', visibility: 4,
        categories: ['Shoes', 'Trail'], brand: 'Peakline', attributes: { brand: 'Peakline', color: 'Red, Blue' }, qty: 7,
      });
      expect(message!.headers?.[HEADERS.sourceVersion]).toBe('42');
    });
  });

  describe('when a delete names store 0 for a tenant with stores 1 and 2', () => {
    it('yields one tombstone per store', () => {
      const result = itemToMessages(item({ type: 'cms_page', id: 'privacy/policy#v2', action: 'delete', store_id: 0 }), context);
      expect(result.ok && result.messages.map((m) => [parseKey(m.key).storeId, m.value, parseKey(m.key).entityId])).toEqual([
        [1, null, 'privacy/policy#v2'],
        [2, null, 'privacy/policy#v2'],
      ]);
    });
  });

  describe('when a required field is missing or has the wrong type', () => {
    it('names each failing field under data', () => {
      const result = itemToMessages(item({ type: 'product', id: '9', action: 'save', data: { price: 'cheap', categories: 'A|B' } }), context);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.issues.map((i) => i.path)).toEqual(['data.name', 'data.price']);
    });
  });

  describe('when an aspect is saved', () => {
    it('keys it like its product and defaults the sku to the id', () => {
      const result = itemToMessages(item({ type: 'product_stock', id: 'SKU 7', action: 'save', store_id: 1, data: { qty: '3', stock_status: 1 } }), context);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(parseKey(result.messages[0]!.key).entityType).toBe('product');
      expect(result.messages[0]!.value).toMatchObject({ sku: 'SKU 7', qty: 3, stock_status: 'in_stock', is_in_stock: true });
    });
  });
});

describe('parseChangeItem', () => {
  it('reports every bad envelope field at once', () => {
    const parsed = parseChangeItem({ type: 'order', action: 'upsert', store_id: -1 });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues.map((i) => i.path)).toEqual(['type', 'id', 'action', 'store_id']);
  });

  it('needs no data for a delete', () => {
    expect(parseChangeItem({ type: 'category', id: 5, action: 'delete' }).ok).toBe(true);
  });
});
