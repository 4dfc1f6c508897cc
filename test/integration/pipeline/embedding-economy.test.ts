import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatKey } from '../../../src/core/keys.js';
import type { VectorStore } from '../../../src/stores/index.js';
import { generateEntities, type PublishLine } from '../../support/generate-entities.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';

/**
 * What ragsync promises about embedding cost at catalog scale, counted by the embed stage's own
 * model counters: 1,000 price changes (as price aspects and as whole product saves that differ in
 * price only) embed nothing, and an edited paragraph of one product embeds exactly its chunk.
 */
describe('embedding calls at catalog scale', () => {
  const tenant = 'economy';
  let harness: PipelineHarness;
  let store: VectorStore;
  let products: PublishLine[];

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
    await harness.start();
    store = await harness.openStore();
    products = generateEntities(1700, { tenant, seed: 23, storeId: 1 })
      .filter((line) => line.type === 'product')
      .slice(0, 1000);
    expect(products).toHaveLength(1000);
    await harness.publishLines(products.map((line) => JSON.stringify({ ...line, source_version: 100 })));
    await harness.settle(240_000);
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  const key = (id: string) => formatKey({ tenant, entityType: 'product', entityId: id, storeId: 1 });

  it('makes no embedding call for 1,000 price changes, and re-embeds exactly the chunk of an edited paragraph', { timeout: 300_000 }, async () => {
    const stats = harness.pipeline!.embeddingStats!;
    const before = { texts: stats.texts, calls: stats.calls };
    // Half as price aspects, half as whole saves that differ in price only.
    const aspects = products.slice(0, 500).map((line) => JSON.stringify({ type: 'product_price', tenant, store_id: 1, id: line.id, action: 'save', source_version: 200, data: { price: 1.5, currency: 'EUR' } }));
    const saves = products.slice(500).map((line) => JSON.stringify({ ...line, source_version: 200, data: { ...line.data, price: 2.5 } }));
    await harness.publishLines([...aspects, ...saves]);
    await harness.settle(240_000);
    expect({ texts: stats.texts - before.texts, calls: stats.calls - before.calls }).toEqual({ texts: 0, calls: 0 });
    // The changes landed (read back with a store client of the test's own).
    for (const line of [products[0]!, products[499]!]) expect((await store.getDocument(key(line.id))).points.every((p) => p.payload.price === 1.5)).toBe(true);
    for (const line of [products[500]!, products[999]!]) {
      const doc = await store.getDocument(key(line.id));
      expect(doc.head?.version).toBe(200n);
      expect(doc.points.every((p) => p.payload.price === 2.5)).toBe(true);
    }

    // One product with several paragraphs; then one paragraph edited.
    const paragraphs = Array.from({ length: 8 }, (_, i) => `<h2>Part ${i + 1}</h2><p>${`Paragraph ${i + 1} explains one side of the trail stove in plain words, with enough text to stand alone as a chunk. `.repeat(6)}</p>`);
    const stove = (version: number, parts: string[]) => JSON.stringify({ type: 'product', tenant, store_id: 1, id: 'trail-stove', action: 'save', source_version: version, data: { sku: 'trail-stove', name: 'Trail stove', description: parts.join(''), price: 49, currency: 'EUR' } });
    await harness.publishLines([stove(300, paragraphs)]);
    await harness.settle();
    const original = await store.getDocument(key('trail-stove'));
    expect(original.points.length).toBeGreaterThan(3);
    const edited = [...paragraphs];
    edited[4] = edited[4]!.replace('one side of the trail stove', 'one side of the trail stove, refuelled on the way,');
    const beforeEdit = stats.texts;
    await harness.publishLines([stove(301, edited)]);
    await harness.settle();
    expect(stats.texts - beforeEdit).toBe(1);
    const after = await store.getDocument(key('trail-stove'));
    const changed = after.points.filter((p) => !original.points.some((o) => o.payload.chunk_hash === p.payload.chunk_hash));
    expect(changed).toHaveLength(1);
    expect(changed[0]!.payload.text).toContain('refuelled on the way');
  });
});
