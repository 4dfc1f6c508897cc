import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GuardedVectorStore } from '../../../src/stores/guarded-store.js';
import { LanceDbAliases } from '../../../src/stores/lancedb/alias.js';
import { createLanceDbStore } from '../../../src/stores/lancedb/index.js';
import { LanceDbBackend } from '../../../src/stores/lancedb/lancedb-backend.js';
import type { HeadRecord, VectorStore } from '../../../src/stores/vector-store.js';
import { makeVectorSet } from '../../support/vector-sets.js';

/**
 * `resync --into` on LanceDB, at the store: the collection name is switched to the new table with
 * live writes held while the resync's store catches up there, then released. A live batch caught
 * by the switch or the hold must decide on the heads of the table it writes, as they are once the
 * hold is lifted: the resync has written newer versions there meanwhile, and a write decided on
 * older heads would put a document back to an older version (what a search would then find).
 */
const spec = { dimension: 8, distance: 'cosine' as const, modelId: 'test-model' };
const TTL_MS = 100;
const set = (version: bigint) => makeVectorSet({ entityId: 'P-1', version });
const docKey = set(1n).doc_key;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('live LanceDB writes around a resync switch', () => {
  let path: string;
  const opened: VectorStore[] = [];

  beforeEach(() => {
    path = mkdtempSync(join(tmpdir(), 'ragsync-held-'));
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    rmSync(path, { recursive: true, force: true });
  });

  /** The live store (collection `live`, following its alias) with a gate after each head read, and the resync's store on `live_v2`. */
  async function stores(): Promise<{ live: VectorStore; resync: VectorStore; afterRead: { gate?: Promise<void>; reached?: () => void } }> {
    const afterRead: { gate?: Promise<void>; reached?: () => void } = {};
    const backend = new LanceDbBackend({ path, collection: 'live', aliasTtlMs: TTL_MS });
    const readHeads = backend.readHeads.bind(backend);
    backend.readHeads = async (keys: readonly string[]): Promise<Map<string, HeadRecord>> => {
      const heads = await readHeads(keys);
      afterRead.reached?.();
      await afterRead.gate;
      return heads;
    };
    const live = new GuardedVectorStore(backend);
    const resync = createLanceDbStore({ path, collection: 'live_v2' });
    opened.push(live, resync);
    for (const store of [live, resync]) {
      await store.connect();
      await store.ensureCollection(spec);
    }
    return { live, resync, afterRead };
  }

  it('a batch that read its heads before the switch decides again on the new table', async () => {
    const { live, resync, afterRead } = await stores();
    expect(await live.applyVectorSet(set(1n))).toEqual({ applied: true });
    await resync.applyVectorSet(set(1n));

    // The live batch of v2 has read its head (v1, old table) when the switch happens.
    let open!: () => void;
    afterRead.gate = new Promise((resolve) => (open = resolve));
    const reached = new Promise<void>((resolve) => (afterRead.reached = resolve));
    const pending = live.applyVectorSet(set(2n));
    await reached;
    afterRead.gate = undefined;
    const aliases = new LanceDbAliases(path);
    await aliases.switch('live', 'live_v2', { holdWritesMs: 60_000 });
    // The resync's catch-up: v3 into the new table while live writes are held.
    await sleep(3 * TTL_MS);
    await resync.applyVectorSet(set(3n));
    await aliases.releaseWrites('live');
    open();

    expect(await pending).toEqual({ applied: false, reason: 'stale' });
    expect((await resync.getDocument(docKey)).head?.version).toBe(3n);
    expect((await live.getDocument(docKey)).points.map((p) => p.payload.title)).toEqual(['Item P-1 v3', 'Item P-1 v3']);
  });

  it('a batch that read its heads while writes were held decides again once they are released', async () => {
    const { live, resync, afterRead } = await stores();
    await resync.applyVectorSet(set(1n));
    const aliases = new LanceDbAliases(path);
    await aliases.switch('live', 'live_v2', { holdWritesMs: 60_000 });
    await sleep(3 * TTL_MS);

    // The live store follows the switch and reads v1 from the new table; its write waits for the hold.
    const reached = new Promise<void>((resolve) => (afterRead.reached = resolve));
    const pending = live.applyVectorSet(set(2n));
    const first = await Promise.race([reached.then(() => 'read'), sleep(1_000).then(() => 'waiting')]);
    await resync.applyVectorSet(set(3n));
    await aliases.releaseWrites('live');

    expect(await pending).toEqual({ applied: false, reason: 'stale' });
    expect((await resync.getDocument(docKey)).head?.version, `the live batch ${first === 'read' ? 'read its heads during the hold' : 'waited before reading'}`).toBe(3n);
    expect((await live.getDocument(docKey)).points.map((p) => p.payload.title)).toEqual(['Item P-1 v3', 'Item P-1 v3']);
  });
});
