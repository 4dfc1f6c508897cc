import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLanceDbStore } from '../../../src/stores/lancedb/index.js';
import { runVectorStoreConformance } from './conformance.js';

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
