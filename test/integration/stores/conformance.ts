import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SystemError } from '../../../src/core/errors.js';
import type { CollectionSpec, VectorStore } from '../../../src/stores/vector-store.js';
import { makeVectorSet, vectorNear, type VectorSetOptions } from '../../support/vector-sets.js';

/** Where one test's data lives: a temp directory or a unique collection. */
export interface StoreLocation {
  /** A new, unconnected store instance on this location's data (no state shared with others). */
  open(): VectorStore;
  cleanup(): Promise<void>;
}

export interface StoreHarness {
  name: string;
  setup(): Promise<StoreLocation>;
}

const DIMENSION = 8;
export const SPEC: CollectionSpec = { dimension: DIMENSION, distance: 'cosine', modelId: 'test-model' };

/**
 * The behaviour every vector store must show (VectorStore's contract), run unchanged against each
 * implementation so they cannot drift apart.
 */
export function runVectorStoreConformance(harness: StoreHarness): void {
  describe(`the ${harness.name} vector store`, () => {
    let location: StoreLocation;
    let store: VectorStore;
    const opened: VectorStore[] = [];

    async function openStore(): Promise<VectorStore> {
      const instance = location.open();
      opened.push(instance);
      await instance.connect();
      await instance.ensureCollection(SPEC);
      return instance;
    }

    const save = (options: VectorSetOptions) => store.applyVectorSet(makeVectorSet({ dimension: DIMENSION, ...options }));
    const keyOf = (entityId: string, extra: Partial<VectorSetOptions> = {}) =>
      makeVectorSet({ entityId, version: 1n, dimension: DIMENSION, ...extra }).doc_key;

    beforeEach(async () => {
      location = await harness.setup();
      store = await openStore();
    });

    afterEach(async () => {
      for (const instance of opened.splice(0)) await instance.close();
      await location.cleanup();
    });

    it('finds the document whose vectors are nearest to the query', async () => {
      await save({ entityId: 'lamp', version: 1n, axis: 1 });
      await save({ entityId: 'chair', version: 1n, axis: 5 });
      const hits = await store.search({ vector: vectorNear(5, DIMENSION), limit: 3 });
      expect(hits[0]?.payload.doc_key).toBe(keyOf('chair'));
      expect(hits[0]?.payload).toMatchObject({ doc_type: 'product', tenant: 'acme', store_id: 1, chunk_index: expect.any(Number) });
      expect(hits[0]!.score).toBeGreaterThan(hits.at(-1)!.score - 1e-9);
      expect(hits[0]!.score).toBeGreaterThan(0.99);
    });

    it('leaves exactly 3 points when a document shrinks from 10 chunks to 3', async () => {
      await save({ entityId: 'desk', version: 1n, chunks: 10 });
      expect(await store.countPoints({ docKey: keyOf('desk') })).toBe(10);
      await save({ entityId: 'desk', version: 2n, chunks: 3 });
      const document = await store.getDocument(keyOf('desk'));
      expect(document.points.map((point) => point.payload.chunk_index)).toEqual([0, 1, 2]);
      expect(await store.countPoints({ docKey: keyOf('desk') })).toBe(3);
    });

    it('reads, updates and deletes documents larger than one page of results', async () => {
      await save({ entityId: 'manual', version: 1n, chunks: 300 });
      await store.applyAspect({ docKey: keyOf('manual'), aspect: 'product_stock', version: 1n, fields: { in_stock: true } });
      const document = await store.getDocument(keyOf('manual'));
      expect(document.points).toHaveLength(300);
      expect(document.points.every((point) => point.payload.in_stock === true)).toBe(true);
      await save({ entityId: 'manual', version: 2n, chunks: 250 });
      expect(await store.countPoints()).toBe(250);
    });

    it('lands writes of many documents made at once', async () => {
      const saves = Array.from({ length: 16 }, (_, i) => save({ entityId: `bulk-${i}`, version: 1n, chunks: 3 }));
      expect(await Promise.all(saves)).toEqual(Array.from({ length: 16 }, () => ({ applied: true })));
      expect(await store.countPoints()).toBe(48);
      expect(await store.listDocKeys()).toHaveLength(16);
    });

    it('removes every point of a deleted document and keeps a delete marker', async () => {
      await save({ entityId: 'sofa', version: 3n, chunks: 4 });
      await save({ entityId: 'bed', version: 1n });
      expect(await store.deleteDocument(keyOf('sofa'), 4n, 1_700_000_000_500)).toEqual({ applied: true });
      const document = await store.getDocument(keyOf('sofa'));
      expect(document.points).toEqual([]);
      expect(document.head).toMatchObject({ version: 4n, deleted: true, deleted_at: 1_700_000_000_500 });
      expect(await store.countPoints()).toBe(2);
      expect(await store.listDocKeys()).toEqual([keyOf('bed')]);
    });

    it('does not resurrect a deleted document from a stale save, even in a fresh store instance', async () => {
      await save({ entityId: 'stool', version: 5n });
      await store.deleteDocument(keyOf('stool'), 7n, 1_700_000_000_700);
      const fresh = await openStore();
      expect(await fresh.applyVectorSet(makeVectorSet({ entityId: 'stool', version: 6n, dimension: DIMENSION }))).toEqual({
        applied: false,
        reason: 'stale',
      });
      expect(await fresh.countPoints({ docKey: keyOf('stool') })).toBe(0);
      expect((await fresh.getDocument(keyOf('stool'))).head).toMatchObject({ deleted: true, version: 7n });
    });

    it('purges delete markers older than the cutoff and keeps newer ones', async () => {
      await store.deleteDocument(keyOf('old'), 2n, 1_000);
      await store.deleteDocument(keyOf('recent'), 2n, 5_000);
      await store.applyAspect({ docKey: keyOf('unsaved'), aspect: 'product_price', version: 1n, fields: { price: 1 } });
      await save({ entityId: 'alive', version: 1n });
      expect(await store.purgeDeleteMarkers(2_000)).toBe(1);
      expect((await store.getDocument(keyOf('old'))).head).toBeUndefined();
      expect((await store.getDocument(keyOf('recent'))).head).toMatchObject({ deleted: true });
      expect((await store.getDocument(keyOf('unsaved'))).head?.aspects.product_price?.version).toBe(1n);
      expect(await store.listDocKeys()).toEqual([keyOf('alive')]);
    });

    it('guards against writes another instance made after this one opened', async () => {
      const other = await openStore();
      await store.getDocument(keyOf('tray'));
      await other.applyVectorSet(makeVectorSet({ entityId: 'tray', version: 5n, dimension: DIMENSION }));
      expect(await save({ entityId: 'tray', version: 4n })).toEqual({ applied: false, reason: 'stale' });
      await other.deleteDocument(keyOf('tray'), 6n, 1);
      expect(await store.countPoints({ docKey: keyOf('tray') })).toBe(0);
      expect(await store.listDocKeys()).toEqual([]);
    });

    it('lets a save newer than the delete marker bring the document back', async () => {
      await store.deleteDocument(keyOf('vase'), 2n, 1_700_000_000_200);
      expect(await save({ entityId: 'vase', version: 3n })).toEqual({ applied: true });
      expect((await store.getDocument(keyOf('vase'))).head).toMatchObject({ deleted: false, version: 3n, deleted_at: null });
      expect(await store.listDocKeys()).toEqual([keyOf('vase')]);
    });

    it('ends with the fifth of five saves applied in order', async () => {
      for (let version = 1n; version <= 5n; version++) await save({ entityId: 'rug', version, chunks: Number(version) });
      const document = await store.getDocument(keyOf('rug'));
      expect(document.head?.version).toBe(5n);
      expect(document.points).toHaveLength(5);
      expect(new Set(document.points.map((point) => point.payload.source_version))).toEqual(new Set(['5']));
      expect(document.points[0]?.payload.title).toBe('Item rug v5');
    });

    it('skips a save older than the stored version and changes nothing', async () => {
      await save({ entityId: 'mirror', version: 9n, chunks: 2 });
      const before = await store.getDocument(keyOf('mirror'));
      expect(await save({ entityId: 'mirror', version: 8n, chunks: 5 })).toEqual({ applied: false, reason: 'stale' });
      expect(await store.getDocument(keyOf('mirror'))).toEqual(before);
    });

    it('applies an equal version again without changing ids, payload or vectors', async () => {
      await save({ entityId: 'clock', version: 4n, chunks: 3 });
      const before = await store.getDocument(keyOf('clock'));
      expect(await save({ entityId: 'clock', version: 4n, chunks: 3 })).toEqual({ applied: true });
      const after = await store.getDocument(keyOf('clock'));
      expect(after).toEqual(before);
      expect(await store.countPoints()).toBe(3);
    });

    it('applies a touch set with a new version and payload', async () => {
      await save({ entityId: 'bench', version: 1n, payload: { price: 40 } });
      await save({ entityId: 'bench', version: 2n, payload: { price: 35 }, touch: true });
      const document = await store.getDocument(keyOf('bench'));
      expect(document.head?.version).toBe(2n);
      expect(document.points.map((point) => [point.payload.source_version, point.payload.price])).toEqual([
        ['2', 35],
        ['2', 35],
      ]);
    });

    it('applies a touch set without chunks as a payload update of the stored points', async () => {
      await save({ entityId: 'crate', version: 1n, chunks: 3, payload: { price: 9 } });
      const before = await store.getDocument(keyOf('crate'));
      const touch = { ...makeVectorSet({ entityId: 'crate', version: 2n, dimension: DIMENSION, payload: { price: 7 }, touch: true }), chunks: [] };
      expect(await store.applyVectorSet(touch)).toEqual({ applied: true });
      const after = await store.getDocument(keyOf('crate'));
      expect(after.head?.version).toBe(2n);
      expect(after.points.map((point) => [point.id, point.payload.source_version, point.payload.price, point.payload.text])).toEqual(
        before.points.map((point) => [point.id, '2', 7, point.payload.text]),
      );
    });

    describe('when a price aspect arrives', () => {
      it('updates the payload of every point of the product without touching vectors', async () => {
        await save({ entityId: 'table', version: 3n, chunks: 4, payload: { sku: 'T-1', price: 100 } });
        const before = await store.getDocument(keyOf('table'));
        const update = { docKey: keyOf('table'), aspect: 'product_price' as const, version: 10n, fields: { price: 80 } };
        expect(await store.applyAspect(update)).toEqual({ applied: true });
        const after = await store.getDocument(keyOf('table'));
        expect(after.points.map((point) => point.payload.price)).toEqual([80, 80, 80, 80]);
        expect(after.points.map((point) => point.payload.sku)).toEqual(['T-1', 'T-1', 'T-1', 'T-1']);
        expect(after.points.map((point) => point.vector)).toEqual(before.points.map((point) => point.vector));
        expect(after.head?.version).toBe(3n);
      });

      it('skips a price older than the last applied price', async () => {
        await save({ entityId: 'lamp', version: 1n });
        await store.applyAspect({ docKey: keyOf('lamp'), aspect: 'product_price', version: 20n, fields: { price: 15 } });
        const stale = await store.applyAspect({ docKey: keyOf('lamp'), aspect: 'product_price', version: 19n, fields: { price: 99 } });
        expect(stale).toEqual({ applied: false, reason: 'stale' });
        // Another aspect keeps its own version.
        expect(await store.applyAspect({ docKey: keyOf('lamp'), aspect: 'product_stock', version: 2n, fields: { in_stock: false } })).toEqual({
          applied: true,
        });
        const points = (await store.getDocument(keyOf('lamp'))).points;
        expect(points.map((point) => [point.payload.price, point.payload.in_stock])).toEqual([
          [15, false],
          [15, false],
        ]);
      });

      it('remembers a price older than the stored save without showing it, so arrival order does not matter', async () => {
        await save({ entityId: 'bowl', version: 30n, payload: { price: 8 } });
        expect(await store.applyAspect({ docKey: keyOf('bowl'), aspect: 'product_price', version: 20n, fields: { price: 5 } })).toEqual({ applied: true });
        const document = await store.getDocument(keyOf('bowl'));
        expect(document.points.map((point) => point.payload.price)).toEqual([8, 8]);
        expect(document.head?.aspects.product_price?.version).toBe(20n);
      });

      it('remembers a price for a deleted product without bringing it back', async () => {
        await save({ entityId: 'cart', version: 1n });
        await store.deleteDocument(keyOf('cart'), 2n, 1);
        expect(await store.applyAspect({ docKey: keyOf('cart'), aspect: 'product_price', version: 3n, fields: { price: 1 } })).toEqual({ applied: true });
        expect(await store.countPoints()).toBe(0);
        expect((await store.getDocument(keyOf('cart'))).head).toMatchObject({ deleted: true, version: 2n });
      });

      it('remembers a price for a product not saved yet and applies it with the first save', async () => {
        await store.applyAspect({ docKey: keyOf('shelf'), aspect: 'product_price', version: 50n, fields: { price: 12 } });
        expect(await store.listDocKeys()).toEqual([]);
        await save({ entityId: 'shelf', version: 40n, payload: { price: 20 } });
        const points = (await store.getDocument(keyOf('shelf'))).points;
        expect(points.map((point) => point.payload.price)).toEqual([12, 12]);
      });
    });

    it('filters searches and counts by tenant, doc type and store', async () => {
      await save({ entityId: 'a', version: 1n, tenant: 'acme', storeId: 1, docType: 'product' });
      await save({ entityId: 'b', version: 1n, tenant: 'acme', storeId: 2, docType: 'product' });
      await save({ entityId: 'c', version: 1n, tenant: 'globex', storeId: 1, docType: 'product' });
      await save({ entityId: 'd', version: 1n, tenant: 'acme', storeId: 1, docType: 'faq', entityType: 'cms_page' });
      const docKeys = async (filter: { tenant?: string; docType?: string; storeId?: number }) =>
        [...new Set((await store.search({ vector: vectorNear(0, DIMENSION), limit: 20, ...filter })).map((hit) => hit.payload.entity_id))].sort();
      expect(await docKeys({ tenant: 'globex' })).toEqual(['c']);
      expect(await docKeys({ tenant: 'acme', storeId: 1 })).toEqual(['a', 'd']);
      expect(await docKeys({ tenant: 'acme', docType: 'faq' })).toEqual(['d']);
      expect(await store.countPoints({ tenant: 'acme', storeId: 2 })).toBe(2);
    });

    it('handles quotes, slashes and non-ASCII characters in document keys', async () => {
      const entityId = "o'neil / ärm #1";
      await save({ entityId, version: 1n, chunks: 3 });
      await save({ entityId, version: 2n, chunks: 1 });
      expect(await store.countPoints({ docKey: keyOf(entityId) })).toBe(1);
      await store.deleteDocument(keyOf(entityId), 3n, 1);
      expect(await store.countPoints()).toBe(0);
    });

    it('applies concurrent saves, deletes and aspects of one document as if one after another', async () => {
      const docKey = keyOf('desk');
      await save({ entityId: 'desk', version: 1n, chunks: 6 });
      // Everything at once, in an order that is not the version order: what a replay of three
      // co-keyed topics looks like to a store without one writer per document.
      const writes: Array<Promise<unknown>> = [];
      for (const version of [5n, 3n, 9n, 2n, 7n, 8n, 4n, 6n]) {
        writes.push(save({ entityId: 'desk', version, chunks: Number(version % 4n) + 1, payload: { sku: 'D-1', price: Number(version) } }));
        writes.push(store.applyAspect({ docKey, aspect: 'product_price', version: 100n + version, fields: { price: 1000 + Number(version) } }));
        writes.push(store.applyAspect({ docKey, aspect: 'product_stock', version: 100n + version, fields: { qty: Number(version) } }));
      }
      writes.push(store.deleteDocument(docKey, 2n, 1));
      await Promise.all(writes);
      const document = await store.getDocument(docKey);
      expect(document.head).toMatchObject({ version: 9n, deleted: false });
      expect(document.head?.aspects.product_price?.version).toBe(109n);
      // Version 9 has 9 % 4 + 1 = 2 chunks; the newest price and stock are on every point.
      expect(document.points.map((point) => [point.payload.chunk_index, point.payload.source_version, point.payload.price, point.payload.qty])).toEqual([
        [0, '9', 1009, 9],
        [1, '9', 1009, 9],
      ]);
      expect(await store.countPoints({ docKey })).toBe(2);
    });

    it('applies a batch of mixed writes exactly as one by one, each with its own result', async () => {
      await save({ entityId: 'sofa', version: 1n, chunks: 4, payload: { price: 300 } });
      await save({ entityId: 'rug', version: 1n, chunks: 2 });
      const broken = { ...makeVectorSet({ entityId: 'broken', version: 1n, dimension: DIMENSION }), payload_json: '[not json' };
      const results = await store.applyBatch([
        { kind: 'vectors', set: makeVectorSet({ entityId: 'sofa', version: 2n, chunks: 1, dimension: DIMENSION, payload: { price: 290 } }) },
        { kind: 'aspect', update: { docKey: keyOf('sofa'), aspect: 'product_price', version: 3n, fields: { price: 250 } } },
        { kind: 'vectors', set: makeVectorSet({ entityId: 'sofa', version: 1n, chunks: 5, dimension: DIMENSION }) },
        { kind: 'delete', docKey: keyOf('rug'), version: 2n, deletedAt: 5 },
        { kind: 'aspect', update: { docKey: keyOf('rug'), aspect: 'product_stock', version: 4n, fields: { qty: 3 } } },
        { kind: 'vectors', set: makeVectorSet({ entityId: 'rug', version: 1n, dimension: DIMENSION }) },
        { kind: 'vectors', set: broken },
        { kind: 'vectors', set: makeVectorSet({ entityId: 'chest', version: 1n, chunks: 3, dimension: DIMENSION }) },
      ]);
      expect(results.map((r) => (r.applied ? 'applied' : r.reason))).toEqual(['applied', 'applied', 'stale', 'applied', 'applied', 'stale', 'failed', 'applied']);
      const sofa = await store.getDocument(keyOf('sofa'));
      expect(sofa.points.map((point) => [point.payload.source_version, point.payload.price])).toEqual([['2', 250]]);
      const rug = await store.getDocument(keyOf('rug'));
      expect(rug.points).toEqual([]);
      expect(rug.head).toMatchObject({ version: 2n, deleted: true });
      expect((await store.getDocument(keyOf('broken'))).head).toBeUndefined();
      expect(await store.countPoints({ docKey: keyOf('chest') })).toBe(3);
      expect(await store.countPoints()).toBe(4);
    });

    it('removes every point of a document whose text became empty', async () => {
      await save({ entityId: 'note', version: 1n, chunks: 3 });
      const empty = { ...makeVectorSet({ entityId: 'note', version: 2n, dimension: DIMENSION }), chunks: [] };
      expect(await store.applyVectorSet(empty)).toEqual({ applied: true });
      const document = await store.getDocument(keyOf('note'));
      expect(document.points).toEqual([]);
      expect(document.head).toMatchObject({ version: 2n, deleted: false });
    });

    it('never brings back a removed chunk with a price update in the same batch', async () => {
      await save({ entityId: 'cabinet', version: 1n, chunks: 5 });
      await store.applyBatch([
        { kind: 'vectors', set: makeVectorSet({ entityId: 'cabinet', version: 2n, chunks: 2, dimension: DIMENSION }) },
        { kind: 'aspect', update: { docKey: keyOf('cabinet'), aspect: 'product_price', version: 1n, fields: { price: 5 } } },
      ]);
      await store.applyAspect({ docKey: keyOf('cabinet'), aspect: 'product_price', version: 2n, fields: { price: 6 } });
      const points = (await store.getDocument(keyOf('cabinet'))).points;
      expect(points.map((point) => [point.payload.chunk_index, point.payload.price])).toEqual([
        [0, 6],
        [1, 6],
      ]);
    });

    describe('when the embedding model does not match the collection', () => {
      it('refuses to bootstrap with another model of the same dimension, naming both', async () => {
        const other = location.open();
        opened.push(other);
        await other.connect();
        const refused = other.ensureCollection({ ...SPEC, modelId: 'hashing-v1-8' });
        await expect(refused).rejects.toBeInstanceOf(SystemError);
        await expect(refused).rejects.toThrow(/test-model.*hashing-v1-8|hashing-v1-8.*test-model/);
      });

      it('refuses vectors of another model as a system error, naming both', async () => {
        const refused = save({ entityId: 'mixed', version: 1n, modelId: 'hashing-v1-8' });
        await expect(refused).rejects.toBeInstanceOf(SystemError);
        await expect(refused).rejects.toThrow(/hashing-v1-8.*test-model/);
        expect(await store.countPoints()).toBe(0);
      });
    });

    describe('when the dimension does not match the collection', () => {
      it('refuses to bootstrap with another dimension as a system error', async () => {
        const other = location.open();
        opened.push(other);
        await other.connect();
        await expect(other.ensureCollection({ ...SPEC, dimension: DIMENSION * 2 })).rejects.toBeInstanceOf(SystemError);
      });

      it('refuses vectors of another dimension as a system error', async () => {
        await expect(save({ entityId: 'big', version: 1n, dimension: DIMENSION * 2 })).rejects.toBeInstanceOf(SystemError);
        expect(await store.countPoints()).toBe(0);
      });
    });
  });
}
