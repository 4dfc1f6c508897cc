import { describe, expect, it } from 'vitest';
import { filterMatches, UnsupportedFilter } from '../../support/qdrant-server/filter.js';

const point = { id: 'a3bb189e-8bf9-3888-9912-ace4e6543002', payload: { tenant: 'acme', store_id: 2, tags: ['red', 'oak'], meta: { brand: 'Nord' } } };

describe("the Qdrant test server's filters", () => {
  it('combines must, should and must_not as Qdrant does', () => {
    expect(filterMatches(point, { must: [{ key: 'tenant', match: { value: 'acme' } }] })).toBe(true);
    expect(filterMatches(point, { must: { key: 'tenant', match: { value: 'globex' } } })).toBe(false);
    expect(filterMatches(point, { should: [{ key: 'store_id', match: { value: 1 } }, { key: 'store_id', match: { value: 2 } }] })).toBe(true);
    expect(filterMatches(point, { must_not: [{ has_id: ['A3BB189E-8BF9-3888-9912-ACE4E6543002'] }] })).toBe(false);
    expect(filterMatches(point, { must: [{ must_not: [{ key: 'tenant', match: { value: 'x' } }] }] })).toBe(true);
  });

  it('matches any element of an array and nested keys', () => {
    expect(filterMatches(point, { must: [{ key: 'tags', match: { any: ['oak', 'pine'] } }] })).toBe(true);
    expect(filterMatches(point, { must: [{ key: 'tags', match: { except: ['red'] } }] })).toBe(false);
    expect(filterMatches(point, { must: [{ key: 'meta.brand', match: { value: 'Nord' } }] })).toBe(true);
    expect(filterMatches(point, { must: [{ key: 'store_id', range: { gt: 1, lte: 2 } }] })).toBe(true);
    expect(filterMatches(point, { must: [{ is_empty: { key: 'missing' } }] })).toBe(true);
  });

  it('refuses a condition it does not implement instead of ignoring it', () => {
    expect(() => filterMatches(point, { must: [{ key: 'tenant', geo_radius: { center: { lat: 0, lon: 0 }, radius: 1 } }] })).toThrow(UnsupportedFilter);
    expect(() => filterMatches(point, { must: [{ key: 'tenant', match: { text: 'ac' } }] })).toThrow(UnsupportedFilter);
  });
});
