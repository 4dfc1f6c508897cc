import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { canonicalJson, fingerprint } from '../../../../src/producers/catalog/canonical.js';
import { diffCatalog } from '../../../../src/producers/catalog/diff.js';
import { parseCatalogText, readCatalogFile } from '../../../../src/producers/catalog/read-file.js';
import { buildChangeValue } from '../../../../src/producers/items/values.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../fixtures/catalog/${name}`, import.meta.url));

describe('readCatalogFile', () => {
  it('reads CSV with |-separated lists and attributes.<name> columns', async () => {
    const [first, , third] = await readCatalogFile(fixture('products.csv'));
    expect(first).toMatchObject({ sku: 'TRK-100', categories: 'Shoes|Trail running', attributes: { color: 'Slate', material: 'Mesh' } });
    expect(third).not.toHaveProperty('description');
  });

  it('maps a CSV row to the same product value as the JSON record', async () => {
    const [csv] = await readCatalogFile(fixture('products.csv'));
    const [json] = await readCatalogFile(fixture('products.json'));
    const common = { tenant: 'acme', store_id: 0, entity_id: 'TRK-100', source_version: 1n, occurred_at: 1 };
    expect(buildChangeValue('product', csv!, common)).toEqual(buildChangeValue('product', json!, common));
  });

  it('reads NDJSON and skips blank lines', async () => {
    expect(await readCatalogFile(fixture('products.ndjson'))).toHaveLength(2);
  });

  it('names the line of a broken NDJSON record', () => {
    expect(() => parseCatalogText('{"sku":"a"}\n{nope\n', 'ndjson', 'f.ndjson')).toThrow(/f\.ndjson:2/);
  });
});

describe('canonicalJson', () => {
  it('hashes the same content in any key order to the same value', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }));
    expect(fingerprint({ b: 1, a: 2 }).hash).toBe(fingerprint({ a: 2, b: 1 }).hash);
  });
});

describe('diffCatalog', () => {
  const before = [
    { sku: 'A', name: 'Alpha', price: 10 },
    { sku: 'B', name: 'Beta', price: 20 },
    { sku: 'C', name: 'Gamma', price: 30 },
  ];
  const previous = new Map(before.map((r) => [r.sku, fingerprint(r)]));

  describe('when records were added, changed and removed', () => {
    const diff = diffCatalog(
      [{ sku: 'A', name: 'Alpha', price: 10 }, { sku: 'B', name: 'Beta', price: 25, brand: 'X' }, { sku: 'D', name: 'Delta' }],
      previous,
      { idField: 'sku' },
    );
    it('reports each kind with the changed field names', () => {
      expect(diff.added.map((e) => e.id)).toEqual(['D']);
      expect(diff.modified.map((e) => [e.id, e.fields])).toEqual([['B', ['brand', 'price']]]);
      expect(diff.deleted).toEqual(['C']);
      expect(diff.unchanged.map((e) => e.id)).toEqual(['A']);
    });
  });

  it('reports rows without an id and repeated ids', () => {
    const diff = diffCatalog([{ name: 'x' }, { sku: 'A' }, { sku: 'A' }], new Map(), { idField: 'sku' });
    expect(diff.invalid).toEqual([
      { row: 1, message: 'has no sku' },
      { row: 3, message: 'repeats sku "A" of row 2' },
    ]);
  });

  it('treats every present record as modified with --force', () => {
    const diff = diffCatalog(before, previous, { idField: 'sku', force: true });
    expect(diff.modified.map((e) => e.id)).toEqual(['A', 'B', 'C']);
    expect(diff.modified[0]!.fields).toEqual(['name', 'price', 'sku']);
  });
});
