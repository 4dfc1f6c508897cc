import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@lancedb/lancedb';
import { Schema } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { createLanceDbStore } from '../../../src/stores/lancedb/index.js';
import { pointsSchema } from '../../../src/stores/lancedb/tables.js';
import { makeVectorSet, vectorNear } from '../../support/vector-sets.js';
import { runVectorStoreConformance, SPEC, type StoreHarness } from './conformance.js';
import { runHybridSearchConformance } from './hybrid-conformance.js';

const harness: StoreHarness = {
  name: 'LanceDB',
  async setup() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    return {
      open: () => createLanceDbStore({ path: dir, collection: 'chunks' }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

runVectorStoreConformance(harness);
runHybridSearchConformance(harness);

describe('when the LanceDB tables are compacted and their indexes rebuilt between writes', () => {
  it('keeps every document, version, vector and payload intact', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    // A compaction every third commit, an index rebuild after nearly every write.
    const store = createLanceDbStore({ path: dir, collection: 'chunks', optimizeEveryCommits: 3, indexEveryRows: 1 });
    try {
      await store.connect();
      await store.ensureCollection(SPEC);
      for (let version = 1n; version <= 7n; version++) {
        await store.applyVectorSet(makeVectorSet({ entityId: `doc-${version % 3n}`, version, chunks: Number(version) }));
      }
      await store.deleteDocument(makeVectorSet({ entityId: 'doc-0', version: 1n }).doc_key, 10n, 1);
      expect(await store.listDocKeys()).toHaveLength(2);
      expect(await store.countPoints()).toBe(7 + 5);

      const docKey = makeVectorSet({ entityId: 'doc-1', version: 1n }).doc_key;
      const before = await store.getDocument(docKey);
      await store.applyAspect({ docKey, aspect: 'product_price', version: 20n, fields: { price: 3 } });
      await store.applyVectorSet(makeVectorSet({ entityId: 'doc-2', version: 30n, chunks: 2 }));
      const after = await store.getDocument(docKey);
      expect(after.points.map((point) => point.payload.price)).toEqual(Array(7).fill(3));
      expect(after.points.map((point) => point.vector)).toEqual(before.points.map((point) => point.vector));
      expect(await store.countPoints()).toBe(7 + 2);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the doc_key indexes of LanceDB tables written in small batches', () => {
  it('are rebuilt by commit count, so lookups do not read every file written since the last rebuild', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    // Rows alone would never make a rebuild due here: ten writes of one document each.
    const store = createLanceDbStore({ path: dir, collection: 'chunks', indexEveryRows: 1_000_000, indexEveryCommits: 4 });
    try {
      await store.connect();
      await store.ensureCollection(SPEC);
      for (let i = 0; i < 10; i++) await store.applyVectorSet(makeVectorSet({ entityId: `doc-${i}`, version: 1n, chunks: 1 }));
    } finally {
      await store.close();
    }
    const db = await connect(dir);
    try {
      // Ten commits to each table: rebuilt after the fourth and the eighth, the last two not yet.
      const points = await (await db.openTable('chunks')).indexStats('doc_key_idx');
      const heads = await (await db.openTable('chunks_heads')).indexStats('doc_key_idx');
      expect([points?.numIndexedRows, points?.numUnindexedRows]).toEqual([8, 2]);
      expect([heads?.numIndexedRows, heads?.numUnindexedRows]).toEqual([8, 2]);
    } finally {
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the doc_key and full-text indexes of a LanceDB collection', () => {
  it('are created with the tables, and for tables that lack them when a store opens them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    const indexedColumns = async () => {
      const db = await connect(dir);
      try {
        const of = async (name: string) => (await (await db.openTable(name)).listIndices()).map((index) => index.columns).sort();
        return [await of('chunks'), await of('chunks_heads')];
      } finally {
        db.close();
      }
    };
    try {
      const first = createLanceDbStore({ path: dir, collection: 'chunks' });
      await first.connect();
      await first.ensureCollection(SPEC);
      await first.applyVectorSet(makeVectorSet({ entityId: 'lamp', version: 1n }));
      await first.close();
      expect(await indexedColumns()).toEqual([[['doc_key'], ['text']], [['doc_key']]]);

      const db = await connect(dir);
      for (const name of ['chunks', 'chunks_heads']) await (await db.openTable(name)).dropIndex('doc_key_idx');
      await (await db.openTable('chunks')).dropIndex('text_idx');
      db.close();
      expect(await indexedColumns()).toEqual([[], []]);

      const second = createLanceDbStore({ path: dir, collection: 'chunks' });
      await second.connect();
      await second.ensureCollection(SPEC);
      expect((await second.getDocument(makeVectorSet({ entityId: 'lamp', version: 1n }).doc_key)).head?.version).toBe(1n);
      await second.close();
      expect(await indexedColumns()).toEqual([[['doc_key'], ['text']], [['doc_key']]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a LanceDB table created before lexical search', () => {
  it('is still written and searched by its vectors, and a lexical search or new filter of it is refused by name', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    const added = new Set(['text', 'categories', 'price', 'stock_status']);
    const full = pointsSchema(SPEC.dimension, SPEC.distance, SPEC.modelId);
    const db = await connect(dir);
    await db.createEmptyTable('chunks', new Schema(full.fields.filter((field) => !added.has(field.name)), full.metadata));
    db.close();
    const store = createLanceDbStore({ path: dir, collection: 'chunks', indexEveryRows: 1 });
    try {
      await store.connect();
      await store.ensureCollection(SPEC);
      const set = makeVectorSet({ entityId: 'lamp', version: 1n, payload: { price: 5 } });
      expect(await store.applyVectorSet(set)).toEqual({ applied: true });
      await store.applyAspect({ docKey: set.doc_key, aspect: 'product_price', version: 2n, fields: { price: 6 } });
      const hits = await store.search({ mode: 'dense', text: 'lamp', vector: vectorNear(0, SPEC.dimension), limit: 5 });
      expect(hits.map((hit) => hit.payload.price)).toEqual([6, 6]);
      await expect(store.search({ mode: 'hybrid', text: 'lamp', vector: vectorNear(0, SPEC.dimension), limit: 5 })).rejects.toMatchObject({ code: 'store_lexical_missing', errorClass: 'system' });
      await expect(store.search({ mode: 'dense', vector: vectorNear(0, SPEC.dimension), limit: 5, maxPrice: 10 })).rejects.toMatchObject({ code: 'store_filter_unsupported' });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
