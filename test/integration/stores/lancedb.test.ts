import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@lancedb/lancedb';
import { describe, expect, it } from 'vitest';
import { createLanceDbStore } from '../../../src/stores/lancedb/index.js';
import { makeVectorSet } from '../../support/vector-sets.js';
import { runVectorStoreConformance, SPEC } from './conformance.js';

runVectorStoreConformance({
  name: 'LanceDB',
  async setup() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    return {
      open: () => createLanceDbStore({ path: dir, collection: 'chunks' }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

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

describe('the doc_key indexes of a LanceDB collection', () => {
  it('are created with the tables, and for tables that lack them when a store opens them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    const indexedColumns = async () => {
      const db = await connect(dir);
      try {
        const of = async (name: string) => (await (await db.openTable(name)).listIndices()).map((index) => index.columns);
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
      expect(await indexedColumns()).toEqual([[['doc_key']], [['doc_key']]]);

      const db = await connect(dir);
      for (const name of ['chunks', 'chunks_heads']) await (await db.openTable(name)).dropIndex('doc_key_idx');
      db.close();
      expect(await indexedColumns()).toEqual([[], []]);

      const second = createLanceDbStore({ path: dir, collection: 'chunks' });
      await second.connect();
      await second.ensureCollection(SPEC);
      expect((await second.getDocument(makeVectorSet({ entityId: 'lamp', version: 1n }).doc_key)).head?.version).toBe(1n);
      await second.close();
      expect(await indexedColumns()).toEqual([[['doc_key']], [['doc_key']]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
