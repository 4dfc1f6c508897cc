import { describe, expect, it } from 'vitest';
import { whereOf } from '../../../src/stores/lancedb/tables.js';
import { toQdrantFilter } from '../../../src/stores/qdrant/filters.js';
import { searchPlan } from '../../../src/stores/search-plan.js';

describe('the mode of a search', () => {
  const vector = [1, 0];

  it('is dense for a vector alone and hybrid when text is given too', () => {
    expect(searchPlan({ vector, limit: 3 }).mode).toBe('dense');
    expect(searchPlan({ vector, text: 'tent', limit: 3 })).toEqual({ mode: 'hybrid', vector, text: 'tent' });
    expect(searchPlan({ mode: 'lexical', text: ' tent ', limit: 3 })).toEqual({ mode: 'lexical', text: 'tent' });
  });

  it('needs text for lexical and hybrid, and a vector for dense and hybrid', () => {
    expect(() => searchPlan({ mode: 'lexical', limit: 3 })).toThrow('a lexical search needs the query\'s text');
    expect(() => searchPlan({ mode: 'hybrid', text: '', vector, limit: 3 })).toThrow('text');
    expect(() => searchPlan({ mode: 'dense', text: 'tent', limit: 3 })).toThrow('a dense search needs the query\'s vector');
  });
});

describe('search filters', () => {
  const filter = { tenant: 'demo', storeId: 1, category: "Jackets & rain'wear", minPrice: 10, maxPrice: 99.5, stockStatus: 'in_stock' };

  it('become a Qdrant filter: exact matches, any of the categories, a price range', () => {
    expect(toQdrantFilter(filter)).toEqual({
      must: [
        { key: 'tenant', match: { value: 'demo' } },
        { key: 'store_id', match: { value: 1 } },
        { key: 'categories', match: { value: "Jackets & rain'wear" } },
        { key: 'price', range: { gte: 10, lte: 99.5 } },
        { key: 'stock_status', match: { value: 'in_stock' } },
      ],
    });
    expect(toQdrantFilter({ maxPrice: 5 })).toEqual({ must: [{ key: 'price', range: { lte: 5 } }] });
    expect(toQdrantFilter({})).toBeUndefined();
  });

  it('become a LanceDB predicate over the filter columns, quoting strings', () => {
    expect(whereOf(filter)).toBe(
      "tenant = 'demo' AND store_id = 1 AND array_has(categories, 'Jackets & rain''wear') AND price >= 10 AND price <= 99.5 AND stock_status = 'in_stock'",
    );
  });

  it('are refused for a LanceDB table without the column, and for a price that is not a number', () => {
    expect(() => whereOf({ category: 'Outdoor' }, new Set(['tenant']))).toThrow('no categories column');
    expect(() => whereOf({ minPrice: Number.NaN })).toThrow('not a finite number');
  });
});
