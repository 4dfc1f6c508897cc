import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from '../../../src/embedders/index.js';
import { formatKey } from '../../../src/core/keys.js';
import type { EntityType } from '../../../src/core/entities.js';
import { searchIndex } from '../../../src/cli/search.js';
import type { VectorStore } from '../../../src/stores/index.js';
import { generateEntities, toNdjson, type PublishLine } from '../../support/generate-entities.js';
import { PipelineHarness, type StoreKind } from '../../support/pipeline-harness.js';

/**
 * The doc type each generated entity must end up with: the CMS identifier table of the Magento
 * plan (§1.3), written out here independently of the classifier under test.
 */
const CMS_TABLE: Array<[RegExp, string]> = [
  [/^(privacy|data-protection)/, 'policy'],
  [/^(terms|conditions)/, 'policy'],
  [/^(return|refund)/, 'policy'],
  [/^(warranty|guarantee)/, 'policy'],
  [/^(shipping|delivery)/, 'shipping'],
  [/^(faq|frequently-asked|help)/, 'faq'],
  [/^(about|our-story|company)/, 'general'],
  [/^(contact|reach-us|support)/, 'support'],
  [/^(size-guide|fit-guide)/, 'guide'],
  [/^(how-to|guide|tutorial)/, 'guide'],
];

function expectedDocType(line: PublishLine): string {
  switch (line.type) {
    case 'cms_page':
      return CMS_TABLE.find(([pattern]) => pattern.test(line.id))?.[1] ?? 'general';
    case 'cms_block':
      return 'general';
    default:
      return line.type;
  }
}

describe.each<StoreKind>(['lancedb', 'qdrant'])('1,000 mixed entities indexed into %s', (storeKind) => {
  let harness: PipelineHarness;
  let store: VectorStore;
  const lines = generateEntities(1000, { tenant: 'mixed', seed: 42, storeId: 1 });

  beforeAll(async () => {
    harness = await PipelineHarness.create(storeKind);
    await harness.start();
    await harness.publishLines(toNdjson(lines).split('\n').filter((l) => l.length > 0));
    await harness.settle(300_000);
    store = await harness.openStore();
  }, 400_000);

  afterAll(async () => {
    if (harness?.qdrant) expect(harness.qdrant.violations).toEqual([]);
    await harness?.close();
  });

  it('makes every document searchable with the right doc type', async () => {
    const keys = new Set(await store.listDocKeys());
    const wrong: string[] = [];
    for (const line of lines) {
      const key = formatKey({ tenant: 'mixed', entityType: line.type as EntityType, entityId: line.id, storeId: 1 });
      if (!keys.has(key)) {
        wrong.push(`${key}: missing`);
        continue;
      }
      const doc = await store.getDocument(key);
      const types = new Set(doc.points.map((p) => p.payload.doc_type));
      if (doc.points.length === 0 || types.size !== 1 || !types.has(expectedDocType(line))) wrong.push(`${key}: ${[...types].join(',') || 'no points'} (expected ${expectedDocType(line)})`);
    }
    expect(wrong).toEqual([]);
    expect(keys.size).toBe(1000);
  });

  it('finds the privacy policy first for a question about personal data', async () => {
    const { embedder } = await createEmbedder(harness.config.embedder);
    const hits = await searchIndex(embedder, store, 'how do you protect my personal data and privacy', { tenant: 'mixed', limit: 3 });
    expect(hits[0]?.payload.entity_id).toBe('privacy-policy');
    expect(hits[0]?.payload.doc_type).toBe('policy');
    const filtered = await searchIndex(embedder, store, 'privacy of personal data', { tenant: 'mixed', type: 'policy', limit: 5 });
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((h) => h.payload.doc_type === 'policy')).toBe(true);
  });

  it('answers in every mode with one hit per document, and finds a product by its SKU lexically', async () => {
    const { embedder } = await createEmbedder(harness.config.embedder);
    for (const mode of ['dense', 'lexical', 'hybrid'] as const) {
      const hits = await searchIndex(embedder, store, 'how do you protect my personal data and privacy', { tenant: 'mixed', limit: 5, mode });
      expect(hits.length).toBeGreaterThan(0);
      expect(new Set(hits.map((h) => h.payload.doc_key)).size).toBe(hits.length);
      expect(hits.every((h) => h.others.every((o) => o.payload.doc_key === h.payload.doc_key))).toBe(true);
    }
    const product = lines.find((line) => line.type === 'product')!;
    const lexical = await searchIndex(embedder, store, product.id, { tenant: 'mixed', limit: 3, mode: 'lexical' });
    expect(lexical[0]?.payload.entity_id).toBe(product.id);
    // Fused, the product's 1/(k + 1) from BM25 equals what the first dense hit gets from the vectors:
    // which leads depends on their ranks in the other ranking.
    const hybrid = await searchIndex(embedder, store, product.id, { tenant: 'mixed', limit: 3, mode: 'hybrid' });
    expect(hybrid.slice(0, 2).map((h) => h.payload.entity_id)).toContain(product.id);
  });

  it('filters products by category, price range and stock status', async () => {
    const { embedder } = await createEmbedder(harness.config.embedder);
    const products = lines.filter((line) => line.type === 'product').map((line) => line.data as { categories: string[]; price: number; stock_status: string });
    const category = products[0]!.categories[0]!;
    const hits = await searchIndex(embedder, store, 'sturdy and practical', { tenant: 'mixed', limit: 10, category, minPrice: 50, maxPrice: 200, stock: 'in_stock' });
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) {
      expect(hit.payload.categories).toContain(category);
      expect(hit.payload.price).toBeGreaterThanOrEqual(50);
      expect(hit.payload.price).toBeLessThanOrEqual(200);
      expect(hit.payload.stock_status).toBe('in_stock');
    }
  });
});
