import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVectorStore } from '../../../src/stores/index.js';
import { startQdrantServer, type QdrantTestServer } from '../../support/qdrant-server/server.js';
import { SPEC } from './conformance.js';

describe('choosing the vector store from configuration', () => {
  let server: QdrantTestServer;
  let dir: string;

  beforeAll(async () => {
    server = await startQdrantServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-factory-'));
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uses Qdrant when a Qdrant URL is set', async () => {
    const store = createVectorStore({ qdrantUrl: server.url, collection: 'from_config', lancedbPath: dir });
    await store.connect();
    await store.ensureCollection(SPEC);
    await store.close();
    expect([...server.engine.collections.keys()].sort()).toEqual(['from_config', 'from_config_heads']);
    expect(await readdir(dir)).toEqual([]);
    expect(server.violations).toEqual([]);
  });

  it('uses LanceDB under the configured path otherwise', async () => {
    const store = createVectorStore({ collection: 'embedded', lancedbPath: dir });
    await store.connect();
    await store.ensureCollection(SPEC);
    await store.close();
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['embedded.lance', 'embedded_heads.lance']));
  });
});
