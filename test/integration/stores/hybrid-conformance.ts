import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VectorSetRecord } from '../../../src/core/records.js';
import { groupByDocument } from '../../../src/stores/group-hits.js';
import type { SearchHit, SearchMode, SearchQuery, VectorStore } from '../../../src/stores/vector-store.js';
import { makeVectorSet, vectorNear, type VectorSetOptions } from '../../support/vector-sets.js';
import { SPEC, type StoreHarness, type StoreLocation } from './conformance.js';

const DIMENSION = SPEC.dimension;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A vector set whose chunks have the given texts (one chunk per text), vectors leaning towards `axis`. */
function documentSet(options: VectorSetOptions & { texts: string[] }): VectorSetRecord {
  const set = makeVectorSet({ dimension: DIMENSION, ...options, chunks: options.texts.length });
  return { ...set, chunks: set.chunks.map((chunk, i) => ({ ...chunk, text: options.texts[i]!, hash: sha256(options.texts[i]!) })) };
}

const entityIds = (hits: SearchHit[]) => [...new Set(hits.map((hit) => hit.payload.entity_id))];

/**
 * Lexical and hybrid search (docs/retrieval.md), run unchanged against every store: the lexical
 * signal comes from the store's own index (LanceDB full-text search, Qdrant BM25 sparse vectors),
 * fused with the dense one by reciprocal rank fusion.
 */
export function runHybridSearchConformance(harness: StoreHarness): void {
  describe(`hybrid search in the ${harness.name} store`, () => {
    let location: StoreLocation;
    let store: VectorStore;

    beforeEach(async () => {
      location = await harness.setup();
      store = location.open();
      await store.connect();
      await store.ensureCollection(SPEC);
    });

    afterEach(async () => {
      await store.close();
      await location.cleanup();
    });

    const save = (options: VectorSetOptions & { texts: string[] }) => store.applyVectorSet(documentSet(options));
    const search = (mode: SearchMode, text: string, axis: number, extra: Partial<SearchQuery> = {}) =>
      store.search({ mode, text, vector: vectorNear(axis, DIMENSION), limit: 10, ...extra });

    /** Three products: the kettle's vectors lean away from every query below, only its words match. */
    async function saveShop(): Promise<void> {
      await save({
        entityId: 'kettle',
        version: 1n,
        axis: 1,
        title: 'Stovetop kettle',
        texts: ['Stainless steel body with a whistle, model ZX-4411.', 'Works on gas and induction hobs.'],
        payload: { sku: 'ZX-4411', categories: ['Kitchen', 'Cookware'], price: 39.5, stock_status: 'in_stock' },
      });
      await save({
        entityId: 'toaster',
        version: 1n,
        axis: 5,
        title: 'Four slice toaster',
        texts: ['Browning control with seven levels.', 'Crumb tray slides out for cleaning.'],
        payload: { sku: 'TS-4', categories: ['Kitchen', 'Appliances'], price: 64, stock_status: 'out_of_stock' },
      });
      await save({
        entityId: 'lantern',
        version: 1n,
        axis: 3,
        title: 'Camping lantern',
        texts: ['Rechargeable lantern with a warm light, 300 lumen.'],
        payload: { sku: 'CL-300', categories: ['Outdoor'], price: 25, stock_status: 'in_stock' },
      });
    }

    it('finds a document by a code that only its words hold, in lexical and hybrid mode', async () => {
      await saveShop();
      const lexical = await search('lexical', 'ZX-4411', 5);
      expect(entityIds(lexical)).toEqual(['kettle']);
      expect(lexical[0]!.score).toBeGreaterThan(0);
      const hybrid = await search('hybrid', 'ZX-4411', 5);
      expect(hybrid[0]?.payload.entity_id).toBe('kettle');
      // The dense ranking is still part of the fusion: the other documents follow.
      expect(entityIds(hybrid).sort()).toEqual(['kettle', 'lantern', 'toaster']);
    });

    it('ranks by the vectors alone in dense mode, as before', async () => {
      await saveShop();
      const dense = await search('dense', 'ZX-4411', 5);
      expect(dense[0]?.payload.entity_id).toBe('toaster');
      expect(dense[0]!.score).toBeGreaterThan(0.99);
      // A query with only a vector is a dense one.
      expect((await store.search({ vector: vectorNear(3, DIMENSION), limit: 1 }))[0]?.payload.entity_id).toBe('lantern');
    });

    it('matches every chunk of a document by its title, and stems words', async () => {
      await saveShop();
      // "induction" is in the kettle's second chunk only, "stovetop" in its title only; "hobs" is stemmed to "hob".
      const hits = await search('lexical', 'stovetop kettle induction hob', 3);
      expect(hits[0]?.payload.chunk_id).toBe(`${hits[0]?.payload.doc_key}#1`);
      expect(hits.map((hit) => hit.payload.entity_id)).toEqual(['kettle', 'kettle']);
    });

    it('returns nothing lexically for words no document has', async () => {
      await saveShop();
      expect(await search('lexical', 'submarine periscope', 5)).toEqual([]);
    });

    it('filters lexical and hybrid searches by tenant, store, doc type, category, price range and stock status', async () => {
      await saveShop();
      await save({ entityId: 'kettle-b', version: 1n, axis: 1, tenant: 'globex', title: 'Kettle', texts: ['Kettle ZX-4411 for globex.'], payload: { categories: ['Kitchen'], price: 20 } });
      await save({ entityId: 'kettle-s2', version: 1n, axis: 1, storeId: 2, title: 'Kettle', texts: ['Kettle ZX-4411 in store two.'], payload: { categories: ['Kitchen'], price: 20 } });
      await save({ entityId: 'kettle-faq', version: 1n, axis: 1, docType: 'faq', entityType: 'cms_page', title: 'Kettle questions', texts: ['Descaling a kettle ZX-4411.'], payload: {} });
      for (const mode of ['lexical', 'hybrid'] as const) {
        const ids = async (extra: Partial<SearchQuery>, text = 'kettle ZX-4411 toaster lantern') => entityIds(await search(mode, text, 1, extra)).sort();
        expect(await ids({ tenant: 'globex' })).toEqual(['kettle-b']);
        expect(await ids({ tenant: 'acme', storeId: 2 })).toEqual(['kettle-s2']);
        expect(await ids({ tenant: 'acme', docType: 'faq' })).toEqual(['kettle-faq']);
        expect(await ids({ tenant: 'acme', storeId: 1, category: 'Kitchen' })).toEqual(['kettle', 'toaster']);
        expect(await ids({ tenant: 'acme', category: 'Cookware' })).toEqual(['kettle']);
        expect(await ids({ tenant: 'acme', storeId: 1, minPrice: 30 })).toEqual(['kettle', 'toaster']);
        expect(await ids({ tenant: 'acme', storeId: 1, minPrice: 25, maxPrice: 39.5 })).toEqual(['kettle', 'lantern']);
        expect(await ids({ tenant: 'acme', storeId: 1, maxPrice: 24.99 })).toEqual([]);
        expect(await ids({ tenant: 'acme', stockStatus: 'out_of_stock' })).toEqual(['toaster']);
        expect(await ids({ tenant: 'acme', category: 'Kitchen', stockStatus: 'in_stock', maxPrice: 50 })).toEqual(['kettle']);
      }
      // Dense search takes the same filters.
      expect(entityIds(await search('dense', '', 5, { tenant: 'acme', category: 'Kitchen', stockStatus: 'in_stock' }))).toEqual(['kettle']);
    });

    it('filters by the live price and stock after an aspect changed them', async () => {
      await saveShop();
      await store.applyAspect({ docKey: keyOf('toaster'), aspect: 'product_stock', version: 5n, fields: { stock_status: 'in_stock', qty: 4 } });
      await store.applyAspect({ docKey: keyOf('lantern'), aspect: 'product_price', version: 5n, fields: { price: 80 } });
      const ids = async (extra: Partial<SearchQuery>) => entityIds(await search('hybrid', 'kettle toaster lantern', 1, extra)).sort();
      expect(await ids({ stockStatus: 'out_of_stock' })).toEqual([]);
      expect(await ids({ stockStatus: 'in_stock' })).toEqual(['kettle', 'lantern', 'toaster']);
      expect(await ids({ minPrice: 70 })).toEqual(['lantern']);
    });

    it('groups the chunks of a search into one hit per document, best chunk first and the others attached', async () => {
      await save({ entityId: 'shelf', version: 1n, axis: 2, title: 'Walnut shelf', texts: ['Solid walnut boards.', 'Walnut oil finish.', 'Wall brackets included.'] });
      await save({ entityId: 'desk', version: 1n, axis: 2, title: 'Oak desk', texts: ['Oak top with a walnut inlay.'] });
      for (const mode of ['lexical', 'hybrid', 'dense'] as const) {
        const hits = await search(mode, 'walnut', 2);
        const documents = groupByDocument(hits);
        expect(documents.map((doc) => doc.payload.entity_id).sort()).toEqual(['desk', 'shelf']);
        const shelf = documents.find((doc) => doc.payload.entity_id === 'shelf')!;
        expect(shelf.others).toHaveLength(2);
        expect(shelf.others.every((other) => other.payload.doc_key === shelf.payload.doc_key && other.score <= shelf.score + 1e-9)).toBe(true);
        expect(new Set([shelf.id, ...shelf.others.map((other) => other.id)]).size).toBe(3);
        expect(groupByDocument(hits, 1)).toHaveLength(1);
      }
    });

    it('keeps the lexical data of a product when its price or stock changes, and never indexes live fields', async () => {
      await saveShop();
      const before = await search('lexical', 'kettle whistle induction', 1);
      await store.applyAspect({ docKey: keyOf('kettle'), aspect: 'product_price', version: 7n, fields: { price: 777.25 } });
      await store.applyAspect({ docKey: keyOf('kettle'), aspect: 'product_stock', version: 7n, fields: { stock_status: 'out_of_stock', qty: 4242 } });
      const after = await search('lexical', 'kettle whistle induction', 1);
      expect(after.map((hit) => [hit.id, hit.score])).toEqual(before.map((hit) => [hit.id, hit.score]));
      expect(after.every((hit) => hit.payload.price === 777.25)).toBe(true);
      expect(await search('lexical', '777.25', 1)).toEqual([]);
      expect(await search('lexical', '4242', 1)).toEqual([]);
    });

    it('finds new words at once after a save and forgets the words of replaced chunks', async () => {
      await save({ entityId: 'planter', version: 1n, axis: 4, title: 'Planter', texts: ['Glazed pot for aubergine seedlings.'] });
      expect(entityIds(await search('lexical', 'aubergine', 4))).toEqual(['planter']);
      await save({ entityId: 'planter', version: 2n, axis: 4, title: 'Planter', texts: ['Glazed pot for courgette seedlings.'] });
      expect(await search('lexical', 'aubergine', 4)).toEqual([]);
      expect(entityIds(await search('hybrid', 'courgette', 4))).toEqual(['planter']);
      await store.deleteDocument(keyOf('planter'), 3n, 1);
      expect(await search('lexical', 'courgette', 4)).toEqual([]);
    });

    it('refuses a lexical search without text and a hybrid one without a vector', async () => {
      await expect(store.search({ mode: 'lexical', text: '  ', limit: 3 })).rejects.toThrow(/text/);
      await expect(store.search({ mode: 'hybrid', text: 'kettle', limit: 3 })).rejects.toThrow(/vector/);
    });
  });
}

const keyOf = (entityId: string) => makeVectorSet({ entityId, version: 1n, dimension: DIMENSION }).doc_key;
