import { describe, expect, it } from 'vitest';
import { parseErpEvent } from '../../../../src/producers/erp/event.js';
import { parseChangeItem } from '../../../../src/producers/items/change-item.js';
import type { FieldIssue } from '../../../../src/producers/items/fields.js';
import { itemToMessages } from '../../../../src/producers/items/to-messages.js';
import { parsePublishLine } from '../../../../src/producers/publish/ndjson-line.js';

/**
 * Every input path (Magento webhook item, `publish` line, catalog file row, ERP event) reads data
 * with the same code, so the same value gets the same answer on each: a lone surrogate is refused
 * naming its field, a malformed value never throws, a huge id is refused before it is hashed.
 */
const NOW = Date.UTC(2026, 5, 15, 12);
const context = { tenant: 'acme', stores: [1], sourceVersion: 1n, occurredAt: NOW };

type Issues = FieldIssue[] | 'accepted';

const paths: Record<string, (id: string, data: Record<string, unknown>) => Issues> = {
  webhook: (id, data) => {
    const item = parseChangeItem({ type: 'product', id, action: 'save', store_id: 1, data });
    if (!item.ok) return item.issues;
    const result = itemToMessages(item.item, context);
    return result.ok ? 'accepted' : result.issues;
  },
  publish: (id, data) => {
    const result = parsePublishLine(JSON.stringify({ type: 'product', tenant: 'acme', store_id: 1, id, action: 'save', data }), 1, { now: NOW, storesOf: () => [1] });
    return result.ok ? 'accepted' : result.issues;
  },
  // A catalog row is its data; catalog sync reports its fields without a `data.` prefix.
  catalog: (id, data) => {
    const result = itemToMessages({ type: 'product', id: id.normalize('NFC'), action: 'save', storeId: 1, data }, { ...context, dataPath: '' });
    return result.ok ? 'accepted' : result.issues.map((i) => ({ ...i, path: i.path === 'id' ? 'id' : `data.${i.path}` }));
  },
  erp: (id, data) => {
    const result = parseErpEvent('product.updated', JSON.stringify({ tenant: 'acme', store_id: 1, id, data }), { storesOf: () => [1], fallbackMillis: NOW, nowMs: NOW });
    return result.ok ? 'accepted' : result.issues;
  },
};

describe.each(Object.keys(paths))('the %s path', (path) => {
  const read = paths[path]!;

  it('refuses a lone surrogate in a text field, a list entry or an attribute, naming it as every path does', () => {
    expect(read('LMP-1', { sku: 'LMP-1', name: 'Lamp \ud800' })).toEqual([{ path: 'data.name', message: 'contains a lone surrogate (\\ud800) at character 5: not valid Unicode text' }]);
    expect(read('LMP-1', { sku: 'LMP-1', name: 'Lamp', categories: ['Lights', '\udc00'] })).toEqual([{ path: 'data.categories.1', message: expect.stringMatching(/lone surrogate/) }]);
    expect(read('LMP-1', { sku: 'LMP-1', name: 'Lamp', attributes: { finish: 'Brass\udbff' } })).toEqual([{ path: 'data.attributes.finish', message: expect.stringMatching(/lone surrogate/) }]);
    expect(read('LMP-1', { sku: 'LMP-1', name: 'Lamp 💡' })).toBe('accepted');
  });

  it('refuses a lone surrogate and a 1 MB string in the id with the same message', () => {
    expect(read('LMP-\ud800', { sku: 'LMP-1', name: 'Lamp' })).toEqual([{ path: 'id', message: 'contains a lone surrogate (\\ud800) at character 4: not valid Unicode text' }]);
    expect(read('x'.repeat(1024 * 1024), { sku: 'LMP-1', name: 'Lamp' })).toEqual([{ path: 'id', message: 'is longer than 512 bytes (UTF-8)' }]);
  });

  it('answers a value JavaScript cannot turn into text with an issue, never an exception', () => {
    expect(read('LMP-1', { sku: 'LMP-1', name: 'Lamp', status: { toString: 1, valueOf: 1 } })).toEqual([{ path: 'data.status', message: 'expected enabled, disabled, 1 or 2, got an object' }]);
  });
});
