import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicCatalogue } from '../../../src/kafka/topic-catalogue.js';
import type { VectorStore } from '../../../src/stores/index.js';
import { readAll } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { deleteLine, productKey, resync, saveLine } from './support.js';

// kafkajs is CommonJS and this export is not visible to Node's ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

/**
 * The case the sweep exists for: a product is deleted while the store stage is offline, and by the
 * time the store is back compaction has removed the delete from every topic (tombstones live
 * `delete.retention.ms`). Replaying leaves the document in the store; the sweep removes it. Its
 * delete marker is purged by a later resync, once older than the topics keep tombstones and the
 * retry tiers hold records. Compaction is forced as in the pipeline's compaction test.
 */
describe('a document deleted while the store was offline', () => {
  let harness: PipelineHarness;
  let store: VectorStore;
  const env = { RAGSYNC_PARTITIONS: '3', RAGSYNC_RETRY_DELAYS: '1s' };

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb', env);
    const overrides = { 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01', 'min.compaction.lag.ms': '0', 'delete.retention.ms': '100' };
    const admin = harness.kafka.admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: topicCatalogue(harness.config)
          .filter((spec) => spec.compacted)
          .map((spec) => ({ type: ConfigResourceTypes.TOPIC, name: spec.name, configEntries: Object.entries({ ...spec.configs, ...overrides }).map(([name, value]) => ({ name, value })) })),
      });
    } finally {
      await admin.disconnect();
    }
    await harness.start();
    store = await harness.openStore();
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('is swept by the next resync, and its marker purged by a later one', { timeout: 420_000 }, async () => {
    await harness.publishLines([saveLine('ghost', 100), saveLine('keeper', 100)]);
    await harness.settle();
    expect(await store.listDocKeys()).toEqual([productKey('ghost'), productKey('keeper')]);

    // The store goes offline; the delete travels as far as `vectors`.
    await harness.stop();
    await harness.start({}, ['map', 'chunk', 'embed']);
    await harness.publishLines([deleteLine('ghost', 300)]);
    await harness.settle();

    // Compaction removes the delete from every topic (fillers roll the segments).
    const topics = ['changes.product', 'documents', 'chunks', 'vectors'].map((t) => `${harness.config.topics.prefix}${t}`);
    const deadline = Date.now() + 200_000;
    for (let round = 1; ; round++) {
      await harness.publishLines(Array.from({ length: 12 }, (_, i) => saveLine(`filler-${i}`, 1000 + round)));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const left = [];
      for (const topic of topics) if ((await readAll(harness.kafka, topic)).some((r) => r.key === productKey('ghost'))) left.push(topic);
      if (left.length === 0) break;
      if (Date.now() > deadline) throw new Error(`the ghost's records were not compacted away in time: still in ${left.join(', ')}`);
    }
    await harness.settle();
    await harness.stop();
    expect(await store.listDocKeys()).toContain(productKey('ghost'));

    const run = await resync(harness, ['--from', 'vectors'], env);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.events.at(-1)).toMatchObject({ phase: 'done', summary: { swept: 1, sweptKeys: [productKey('ghost')] } });
    const ghost = await store.getDocument(productKey('ghost'));
    expect(ghost.points).toEqual([]);
    expect(ghost.head).toMatchObject({ deleted: true });
    expect(await store.listDocKeys()).toContain(productKey('keeper'));

    // Tombstones live 100 ms here and the retry tier 1 s: a marker older than both protects nothing.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const later = await resync(harness, ['--from', 'vectors'], env);
    expect(later.code).toBe(0);
    expect(later.events.at(-1)).toMatchObject({ phase: 'done', summary: { swept: 0, purgedMarkers: 1 } });
    expect((await store.getDocument(productKey('ghost'))).head).toBeUndefined();
  });
});
