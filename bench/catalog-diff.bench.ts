/**
 * Times `catalog diff` on 10,000 products: hashing every record and comparing with a previous
 * state in which 10% changed, 1% were removed and 1% are new. Not a test; run with
 * `npm run bench -- --scenario catalog-diff`. The target is under one second.
 */
import { fingerprint } from '../src/producers/catalog/canonical.js';
import { diffCatalog } from '../src/producers/catalog/diff.js';

const COUNT = 10_000;

function product(i: number, variant = 0): Record<string, unknown> {
  return {
    sku: `SKU-${String(i).padStart(6, '0')}`,
    name: `Product ${i}`,
    description: `A sturdy item number ${i}, made for everyday use. `.repeat(8),
    price: 10 + (i % 90) + variant,
    currency: 'EUR',
    categories: ['Home', `Aisle ${i % 40}`],
    brand: `Brand ${i % 25}`,
    attributes: { color: ['red', 'green', 'blue'][i % 3]!, size: String(i % 12), material: 'cotton' },
    qty: i % 17,
  };
}

/** Times one diff; `main` prints it. */
export function measureCatalogDiff(): { count: number; ms: number; added: number; modified: number; deleted: number; unchanged: number } {
  const previousRecords = Array.from({ length: COUNT }, (_, i) => product(i));
  const previous = new Map(previousRecords.map((r) => [r.sku as string, fingerprint(r)]));
  const current = Array.from({ length: COUNT }, (_, i) => product(i < COUNT * 0.99 ? i : COUNT + i, i % 10 === 0 ? 1 : 0));

  const start = performance.now();
  const diff = diffCatalog(current, previous, { idField: 'sku' });
  const ms = performance.now() - start;
  return { count: COUNT, ms, added: diff.added.length, modified: diff.modified.length, deleted: diff.deleted.length, unchanged: diff.unchanged.length };
}

export function main(): void {
  const { ms, ...diff } = measureCatalogDiff();
  console.log(
    `diffed ${COUNT} products in ${ms.toFixed(0)} ms: ${diff.added} added, ${diff.modified} modified, ${diff.deleted} deleted, ${diff.unchanged} unchanged`,
  );
  if (ms >= 1000) {
    console.error('slower than the 1 s target');
    process.exitCode = 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
