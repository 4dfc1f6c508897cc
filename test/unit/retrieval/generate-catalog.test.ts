import { describe, expect, it } from 'vitest';
import { generateCatalog } from '../../../bench/generate-catalog.js';
import { parsePublishLine } from '../../../src/producers/publish/ndjson-line.js';
import { parseEvalSet } from '../../../src/retrieval/eval-set.js';

describe('the synthetic benchmark catalog', () => {
  const catalog = generateCatalog({ count: 400, seed: 11, tenant: 'bench', queryCount: 50 });

  it('is the same for the same seed and differs for another', () => {
    expect(JSON.stringify(generateCatalog({ count: 400, seed: 11, tenant: 'bench', queryCount: 50 }))).toBe(JSON.stringify(catalog));
    expect(JSON.stringify(generateCatalog({ count: 400, seed: 12, tenant: 'bench', queryCount: 50 }).lines)).not.toBe(JSON.stringify(catalog.lines));
  });

  it('is accepted line by line by ragsync publish', () => {
    const rejected = catalog.lines.flatMap((line, i) => {
      const result = parsePublishLine(JSON.stringify(line), i + 1, { now: Date.UTC(2026, 11, 1), storesOf: () => [1] });
      return result.ok ? [] : [{ line: i + 1, issues: result.issues }];
    });
    expect(rejected).toEqual([]);
  });

  it('has the products asked for, each with a distinct name, categories, attributes and a specification table', () => {
    const products = catalog.lines.filter((l) => l.type === 'product').map((l) => l.data as Record<string, unknown>);
    expect(products).toHaveLength(400);
    expect(new Set(products.map((p) => p.name)).size).toBe(400);
    for (const p of products) {
      expect((p.categories as string[]).length).toBe(2);
      expect(Object.keys(p.attributes as object)).toContain('colour');
      expect(p.description).toMatch(/<table class="specs">.*<\/table>/);
    }
    expect(new Set(products.map((p) => (p.categories as string[])[1])).size).toBeGreaterThan(3);
  });

  it('comes with an evaluation set whose questions name one of its products', () => {
    const queries = parseEvalSet(catalog.queries.map((q) => JSON.stringify(q)).join('\n'));
    expect(queries).toHaveLength(50);
    const names = new Map(catalog.lines.filter((l) => l.type === 'product').map((l) => [`bench/product/${String(l.id)}/1`, String((l.data as { name: string }).name)]));
    for (const q of queries) {
      const name = names.get(q.expect[0]!);
      expect(name, q.expect[0]).toBeDefined();
      expect(q.query).toContain(name!.split(' ')[0]!);
    }
  });
});
