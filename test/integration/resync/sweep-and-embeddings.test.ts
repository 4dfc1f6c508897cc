import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorStore } from '../../../src/stores/index.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { HEADERS } from '../../../src/core/records.js';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { makeVectorSet } from '../../support/vector-sets.js';
import { EmbeddingsServer } from '../../unit/embedders/openai-server.js';
import { Expected, productKey, readCollection, resync, saveLine } from './support.js';

/**
 * In-place resyncs of a LanceDB store with the pipeline stopped, embedding through an
 * OpenAI-compatible loopback endpoint that counts every request: a replay of `vectors` makes none;
 * the sweep deletes documents no topic holds any more (their delete never reached the store),
 * within --tenant only; and the resync's consumer groups are gone afterwards.
 */
describe('resync in place', () => {
  let harness: PipelineHarness;
  let embeddings: EmbeddingsServer;
  let store: VectorStore;
  const expected = new Expected();
  let ghostModel = '';
  let ghostDimension = 0;

  const env = () => ({ EMBEDDER: 'openai', EMBEDDING_URL: embeddings.url, EMBEDDING_MODEL: 'loop-model' });

  beforeAll(async () => {
    embeddings = await EmbeddingsServer.start({ dimension: 16 });
    harness = await PipelineHarness.create('lancedb', env());
    await harness.start();
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      lines.push(saveLine(`item-${i}`, 100 + i));
      expected.record(`item-${i}`, 100 + i, false);
    }
    for (let i = 0; i < 5; i++) {
      lines.push(saveLine(`other-${i}`, 200 + i, 'other'));
      expected.record(`other-${i}`, 200 + i, false, 'other');
    }
    await harness.publishLines(lines);
    await harness.settle();
    // The store goes offline: nothing runs from here on but the resyncs.
    await harness.stop();
    store = await harness.openStore();
    const sample = (await store.getDocument(productKey('item-0'))).points[0]!;
    ghostModel = sample.payload.model_id;
    ghostDimension = sample.vector.length;
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
    await embeddings?.close();
  });

  /** A document in the store whose records are gone from every topic, as when its delete was compacted away while the store was offline. */
  const ghost = async (tenant: string, id: string) => {
    const results = await store.applyBatch([{ kind: 'vectors', set: makeVectorSet({ tenant, entityId: id, version: 50n, dimension: ghostDimension, modelId: ghostModel }) }]);
    expect(results).toEqual([{ applied: true }]);
    expect(await store.listDocKeys()).toContain(productKey(id, tenant));
  };

  const resyncGroups = async () => {
    const admin = harness.kafka.admin();
    await admin.connect();
    try {
      return (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(`${harness.config.topics.prefix}resync-`));
    } finally {
      await admin.disconnect();
    }
  };

  it('replays vectors with no embedding call, and sweeps only the tenant asked for', { timeout: 240_000 }, async () => {
    const before = embeddings.requests.length;
    expect(before).toBeGreaterThan(0);
    await ghost('shop', 'ghost-1');
    await ghost('other', 'ghost-2');

    const run = await resync(harness, ['--from', 'vectors', '--tenant', 'shop'], env());
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(embeddings.requests.length).toBe(before);
    expect(run.events.at(-1)).toMatchObject({ phase: 'done', summary: { swept: 1, sweptKeys: [productKey('ghost-1')] } });
    const docs = await store.listDocKeys();
    expect(docs).not.toContain(productKey('ghost-1'));
    // Outside --tenant: not swept.
    expect(docs).toContain(productKey('ghost-2', 'other'));
    expect((await store.getDocument(productKey('ghost-1'))).head).toMatchObject({ deleted: true });

    const all = await resync(harness, ['--from', 'vectors'], env());
    expect(all.code).toBe(0);
    expect(embeddings.requests.length).toBe(before);
    expect(all.events.at(-1)).toMatchObject({ phase: 'done', summary: { swept: 1, sweptKeys: [productKey('ghost-2', 'other')] } });
    const actual = await readCollection(harness, harness.config.store.collection);
    expect(actual.docs).toEqual(expected.live());
    expect(actual.duplicateIds).toBe(0);
    expect(await resyncGroups()).toEqual([]);
  });

  it('embeds again from documents once the embedding cache is gone (the counter sees resync calls)', { timeout: 240_000 }, async () => {
    await harness.deleteRedisKeys();
    const before = embeddings.requests.length;
    const run = await resync(harness, ['--from', 'documents'], env());
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(embeddings.requests.length).toBeGreaterThan(before);
    expect((await readCollection(harness, harness.config.store.collection)).docs).toEqual(expected.live());
    expect(await resyncGroups()).toEqual([]);
  });

  // Last: the record it leaves in `vectors` would be replayed by a later resync from vectors.
  it('rebuilds from the change topics alone: what `vectors` held before a resync from changes is not replayed', { timeout: 240_000 }, async () => {
    // A vectors record no change record derives, newer than any: if the replay's store stage read
    // `vectors` from its beginning, it would win over what the replay derives from the changes.
    const forged = makeVectorSet({ tenant: 'shop', entityId: 'item-3', version: 90_000n, dimension: ghostDimension, modelId: ghostModel, title: 'Forged item' });
    const serde = new RegistrySerde(new RegistryClient({ url: harness.config.registry.url }), { prefix: harness.config.topics.prefix });
    const producer = harness.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic: `${harness.config.topics.prefix}vectors`,
        acks: -1,
        messages: [{ key: forged.doc_key, value: await serde.encode(`${harness.config.topics.prefix}vectors`, forged), headers: { [HEADERS.sourceVersion]: '90000' } }],
      });
    } finally {
      await producer.disconnect();
    }
    // Its stages on two threads, as `run all` spreads them: map on one, chunk, embed and store on the other.
    const run = await resync(harness, ['--from', 'changes'], { ...env(), RAGSYNC_STAGE_THREADS: '2' });
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.events.some((e) => e.phase === 'prepare' && String(e.message).includes('map → chunk → embed → store') && String(e.message).includes('on 2 threads'))).toBe(true);
    expect((await readCollection(harness, harness.config.store.collection)).docs).toEqual(expected.live());
    const texts = (await store.getDocument(productKey('item-3'))).points.map((point) => point.payload.text);
    expect(texts.join(' ')).not.toContain('Forged');
    // The store's pass counted only the vectors the replay itself wrote (and the price and stock changes).
    const storePass = run.events.filter((e) => e.phase === 'replay' && e.stage === 'store').at(-1)!;
    expect(storePass.total).toBeLessThan(2 * expected.live().size);
    expect(await resyncGroups()).toEqual([]);
  });
});
