import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../../../src/producers/catalog/canonical.js';
import { diffCatalog } from '../../../../src/producers/catalog/diff.js';
import { diffJson, formatDiff } from '../../../../src/producers/catalog/report.js';

describe('the catalog diff summary', () => {
  const previous = new Map([
    ['BIKE-1', fingerprint({ sku: 'BIKE-1', name: 'Gravel bike', price: 1200 })],
    ['BIKE-2', fingerprint({ sku: 'BIKE-2', name: 'City bike', price: 600 })],
  ]);
  const diff = diffCatalog([{ sku: 'BIKE-1', name: 'Gravel bike', price: 1100 }, { sku: 'BIKE-3', name: 'Cargo bike' }], previous, { idField: 'sku' });

  it('lists added, modified with their fields, and deleted ids with counts per section', () => {
    const text = formatDiff(diff, { file: 'bikes.json', tenant: 'acme', type: 'product', storeId: 0 });
    expect(text).toContain('3 change(s):');
    expect(text).toContain('ADDED (1):\n  + BIKE-3');
    expect(text).toContain('MODIFIED (1):\n  ~ BIKE-1\n      fields: price');
    expect(text).toContain('DELETED (1):\n  - BIKE-2');
  });

  it('gives ids and field names, never the records, as JSON', () => {
    expect(diffJson(diff)).toEqual({ added: ['BIKE-3'], modified: [{ id: 'BIKE-1', fields: ['price'] }], deleted: ['BIKE-2'], unchanged: 0, invalid: [] });
  });
});
