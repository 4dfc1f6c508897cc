import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

describe('when the LanceDB tables are compacted between writes', () => {
  it('keeps every document and version intact', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-lancedb-'));
    const store = createLanceDbStore({ path: dir, collection: 'chunks', optimizeEveryWrites: 3 });
    try {
      await store.connect();
      await store.ensureCollection(SPEC);
      for (let version = 1n; version <= 7n; version++) {
        await store.applyVectorSet(makeVectorSet({ entityId: `doc-${version % 3n}`, version, chunks: Number(version) }));
      }
      await store.deleteDocument(makeVectorSet({ entityId: 'doc-0', version: 1n }).doc_key, 10n, 1);
      expect(await store.listDocKeys()).toHaveLength(2);
      expect(await store.countPoints()).toBe(7 + 5);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
