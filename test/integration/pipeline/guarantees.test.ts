import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineHarness, type StoreKind } from '../../support/pipeline-harness.js';
import type { VectorStore } from '../../../src/stores/index.js';
import { Pipeline } from '../../../src/cli/pipeline.js';
import { SystemError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { MINILM } from '../../../src/embedders/index.js';
import { parsePublishLine } from '../../../src/producers/publish/ndjson-line.js';

/**
 * The pipeline's promises to its users, end to end on the real stack (Kafka, registry, Redis),
 * against LanceDB for real and Qdrant through its API-checking test server.
 */
const TENANT = 'shop';

function productLine(id: string, version: number, data: Record<string, unknown>, action: 'save' | 'delete' = 'save'): string {
  return JSON.stringify({ type: 'product', tenant: TENANT, store_id: 1, id, action, source_version: version, ...(action === 'save' ? { data: { sku: id, name: `Product ${id}`, ...data } } : {}) });
}

function pageLine(id: string, version: number, sections: string[]): string {
  const content = sections.map((text, i) => `<h2>Part ${i + 1}</h2><p>${text}</p>`).join('\n');
  return JSON.stringify({ type: 'cms_page', tenant: TENANT, store_id: 1, id, action: 'save', source_version: version, data: { identifier: id, title: `Page ${id}`, content } });
}

function aspectLine(type: 'product_price' | 'product_stock', id: string, version: number, data: Record<string, unknown>): string {
  return JSON.stringify({ type, tenant: TENANT, store_id: 1, id, action: 'save', source_version: version, data });
}

const WORDS = ['parcel', 'courier', 'refund', 'receipt', 'warehouse', 'label', 'carton', 'invoice', 'voucher', 'exchange', 'tracking', 'address', 'signature', 'window', 'weekday'];
/** A section of about 180 tokens whose words depend on its number, so sections differ. */
function section(n: number, variant = ''): string {
  const sentences: string[] = [];
  for (let s = 0; s < 12; s++) sentences.push(`Section ${n} sentence ${s} covers the ${WORDS[(n + s) % WORDS.length]} and the ${WORDS[(n * 3 + s) % WORDS.length]} rules${variant}.`);
  return sentences.join(' ');
}

const key = (type: string, id: string) => `${TENANT}/${type}/${encodeURIComponent(id)}/1`;

describe.each<StoreKind>(['lancedb', 'qdrant'])('the pipeline into %s', (storeKind) => {
  let harness: PipelineHarness;
  let store: VectorStore;

  beforeAll(async () => {
    harness = await PipelineHarness.create(storeKind, {}, { chunking: { maxTokens: 256, overlapTokens: 32, maxChunksPerDocument: 200 } });
    await harness.start();
    store = await harness.openStore();
  });

  afterAll(async () => {
    if (harness?.qdrant) expect(harness.qdrant.violations).toEqual([]);
    await harness?.close();
  });

  it('keeps the fifth of five rapid saves, and a stale save published afterwards changes nothing', async () => {
    await harness.publishLines([1, 2, 3, 4, 5].map((v) => productLine('lamp', 100 + v, { name: `Brass lamp edition ${v}`, description: `<p>Edition ${v} of the brass lamp.</p>` })));
    await harness.publishLines([productLine('lamp', 102, { name: 'Brass lamp edition 2 (late)' })]);
    await harness.settle();
    const doc = await store.getDocument(key('product', 'lamp'));
    expect(doc.head?.version).toBe(105n);
    expect(doc.points.length).toBeGreaterThan(0);
    expect(new Set(doc.points.map((p) => p.payload.title))).toEqual(new Set(['Brass lamp edition 5']));
  });

  it('removes every point of a deleted entity and never brings it back with a stale save, even without Redis', async () => {
    await harness.publishLines([productLine('kettle', 200, { name: 'Steel kettle', description: '<p>Boils water fast.</p>' })]);
    await harness.settle();
    expect((await store.getDocument(key('product', 'kettle'))).points.length).toBeGreaterThan(0);
    await harness.publishLines([productLine('kettle', 300, {}, 'delete')]);
    await harness.settle();
    expect((await store.getDocument(key('product', 'kettle'))).points).toEqual([]);
    await harness.deleteRedisKeys();
    await harness.publishLines([productLine('kettle', 250, { name: 'Steel kettle (stale)' })]);
    await harness.settle();
    const doc = await store.getDocument(key('product', 'kettle'));
    expect(doc.points).toEqual([]);
    expect(doc.head).toMatchObject({ deleted: true, version: 300n });
  });

  it('leaves exactly 3 points when a document shrinks from 10 chunks to 3', async () => {
    const ten = Array.from({ length: 10 }, (_, i) => section(i));
    await harness.publishLines([pageLine('care-guide', 400, ten)]);
    await harness.settle();
    const before = await store.getDocument(key('cms_page', 'care-guide'));
    expect(before.points.length).toBeGreaterThanOrEqual(10);
    await harness.publishLines([pageLine('care-guide', 401, ten.slice(0, 3))]);
    await harness.settle();
    const after = await store.getDocument(key('cms_page', 'care-guide'));
    expect(after.points.map((p) => p.payload.chunk_index)).toEqual([0, 1, 2]);
    expect(await store.countPoints({ docKey: key('cms_page', 'care-guide') })).toBe(3);
  });

  it('re-embeds exactly one chunk when one paragraph changes, nothing when nothing changes, and nothing for a price change', async () => {
    const sections = Array.from({ length: 10 }, (_, i) => section(i + 20));
    await harness.publishLines([pageLine('returns', 500, sections)]);
    await harness.settle();
    const stats = harness.pipeline!.embeddingStats!;
    const original = await store.getDocument(key('cms_page', 'returns'));

    const edited = [...sections];
    edited[5] = section(25, ' for members');
    const textsBefore = stats.texts;
    await harness.publishLines([pageLine('returns', 501, edited)]);
    await harness.settle();
    expect(stats.texts - textsBefore).toBe(1);
    const changed = (await store.getDocument(key('cms_page', 'returns'))).points.filter((p, i) => p.payload.chunk_hash !== original.points[i]?.payload.chunk_hash);
    expect(changed).toHaveLength(1);

    const unchangedBefore = stats.texts;
    await harness.publishLines([pageLine('returns', 502, edited)]);
    await harness.settle();
    expect(stats.texts - unchangedBefore).toBe(0);
    expect((await store.getDocument(key('cms_page', 'returns'))).head?.version).toBe(502n);

    await harness.publishLines([productLine('mug', 600, { name: 'Stoneware mug', description: '<p>Holds 350 ml.</p>', price: 12.5, currency: 'EUR' })]);
    await harness.settle();
    const priceBefore = stats.texts;
    await harness.publishLines([aspectLine('product_price', 'mug', 601, { price: 9.99, currency: 'EUR' })]);
    await harness.settle();
    expect(stats.texts - priceBefore).toBe(0);
    const mug = await store.getDocument(key('product', 'mug'));
    expect(mug.points.length).toBeGreaterThan(0);
    expect(mug.points.every((p) => p.payload.price === 9.99)).toBe(true);
    expect(mug.points.every((p) => !p.payload.text.includes('9.99') && !p.payload.text.includes('12.5'))).toBe(true);
  });

  it('does not stall a partition on an entity with 5,000 chunks of text', async () => {
    const huge = Array.from({ length: 5000 }, (_, i) => `Item ${i}: a ${WORDS[i % WORDS.length]} note.`).join('</p><p>');
    await harness.publishLines([
      JSON.stringify({ type: 'cms_page', tenant: TENANT, store_id: 1, id: 'catalogue-index', action: 'save', source_version: 700, data: { identifier: 'catalogue-index', title: 'Catalogue index', content: `<p>${huge}</p>` } }),
      productLine('after-the-big-one', 701, { name: 'Follows the big page' }),
    ]);
    await harness.settle(180_000);
    const big = await store.getDocument(key('cms_page', 'catalogue-index'));
    expect(big.points.length).toBe(200);
    expect((await store.getDocument(key('product', 'after-the-big-one'))).points.length).toBeGreaterThan(0);
  });

  it('leaves no stale chunk of a product whose name and description became empty', async () => {
    const long = Array.from({ length: 12 }, (_, i) => `<p>${section(i + 40)}</p>`).join('\n');
    await harness.publishLines([productLine('vase', 800, { name: 'Glazed vase', description: long })]);
    await harness.settle();
    expect((await store.getDocument(key('product', 'vase'))).points.length).toBeGreaterThan(3);
    // The edges refuse a product without a name (it looks like a partial update), but a producer
    // of its own may still write one: it must replace the old text, not be refused downstream.
    const parsed = parsePublishLine(productLine('vase', 801, { name: 'placeholder' }), 1, { now: Date.now(), storesOf: () => [0] });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    await harness.publish(parsed.messages.map((m) => ({ ...m, value: { ...m.value, name: '', description: '' } })));
    await harness.settle();
    const doc = await store.getDocument(key('product', 'vase'));
    expect(doc.head?.version).toBe(801n);
    expect(doc.points.map((p) => [p.payload.title, p.payload.source_version])).toEqual([['vase', '801']]);
    expect(doc.points.some((p) => p.payload.text.includes('Section'))).toBe(false);
  });

  it('counts exactly one dead-lettered and one stale record on /metrics', async () => {
    const totals = async () => {
      const text = await harness.metrics!.registry.metrics();
      const sum = (outcome: string) => [...text.matchAll(new RegExp(`^ragsync_records_total\\{stage="\\w+",outcome="${outcome}"\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      return { dlq: sum('dlq'), stale: sum('stale') };
    };
    const before = await totals();
    await harness.publishLines([productLine('clock', 900, { name: 'Wall clock' }), productLine('clock', 901, { name: 'Wall clock, quiet' })]);
    await harness.settle();
    // A save older than the one applied, and a record no consumer can decode.
    await harness.publishLines([productLine('clock', 899, { name: 'Wall clock (old)' })]);
    const producer = harness.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic: `${harness.config.topics.prefix}changes.product`, acks: -1, messages: [{ key: key('product', 'garbled'), value: Buffer.from('not an avro record') }] });
    await producer.disconnect();
    await harness.settle();
    const after = await totals();
    expect({ dlq: after.dlq - before.dlq, stale: after.stale - before.stale }).toEqual({ dlq: 1, stale: 1 });
    expect((await store.getDocument(key('product', 'clock'))).points[0]?.payload.title).toBe('Wall clock, quiet');
  });

  it('rebuilds the same newest state when every topic is replayed into a fresh, empty store', async () => {
    const fresh = storeKind === 'lancedb' ? { lancedbPath: `${harness.config.store.lancedbPath}-replay` } : { collection: `${harness.config.store.collection}_replay` };
    const original = harness.config;
    await harness.stop();
    harness.config = { ...original, store: { ...original.store, ...fresh }, runner: { ...original.runner, groupPrefix: `${original.topics.prefix}replay.` } };
    try {
      await harness.start();
      await harness.settle(180_000, harness.config.runner.groupPrefix);
      const replayed = await harness.openStore(fresh);
      for (const [type, id] of [['product', 'lamp'], ['product', 'kettle'], ['cms_page', 'care-guide'], ['product', 'mug']] as const) {
        const a = await store.getDocument(key(type, id));
        const b = await replayed.getDocument(key(type, id));
        expect(b.head?.version, `${type} ${id}`).toBe(a.head?.version);
        expect(b.points.map((p) => [p.id, p.payload.title, p.payload.source_version, p.payload.price])).toEqual(a.points.map((p) => [p.id, p.payload.title, p.payload.source_version, p.payload.price]));
      }
      expect((await replayed.getDocument(key('product', 'lamp'))).head?.version).toBe(105n);
      expect((await replayed.getDocument(key('product', 'kettle'))).points).toEqual([]);
    } finally {
      await harness.stop();
      harness.config = original;
    }
  });
});

describe.each<StoreKind>(['lancedb', 'qdrant'])('a worker with another embedding model than the %s collection', (storeKind) => {
  let harness: PipelineHarness;

  beforeAll(async () => {
    harness = await PipelineHarness.create(storeKind, { EMBEDDER: 'hashing' });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('refuses to write, with a message naming both models', async () => {
    // A collection filled by MiniLM workers: the same 384 dimensions and distance as the hashing embedder.
    const minilm = await harness.openStore();
    await minilm.ensureCollection({ dimension: 384, distance: 'cosine', modelId: MINILM.id });
    const pipeline = new Pipeline({ config: harness.config, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) });
    try {
      const started = pipeline.start(['store']);
      await expect(started).rejects.toBeInstanceOf(SystemError);
      await expect(started).rejects.toThrow(new RegExp(`${MINILM.id}.*hashing|hashing.*${MINILM.id}`));
    } finally {
      await pipeline.stop();
    }
    expect(await minilm.countPoints()).toBe(0);
  });
});
