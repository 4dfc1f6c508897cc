import { connect } from '@lancedb/lancedb';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineHarness, type StoreKind } from '../../support/pipeline-harness.js';

/**
 * One writer per document (docs/design.md §8): the store reads `vectors`, price and stock, which
 * share keys. 1,000 products go through the pipeline with their saves, prices, stock levels, newer
 * saves, newer prices and deletes all in flight at once on three partitions, then every topic is
 * replayed into an empty store, where the three inputs of one document always race. What landed
 * is read with the store's own client library, not with ragsync's store code, and compared with
 * the state computed from what was published.
 */
const TENANT = 'race';
const PRODUCTS = 1000;
const WORDS = ['oak', 'linen', 'brass', 'wool', 'slate', 'cedar', 'copper', 'jute', 'walnut', 'clay'];

interface Expected {
  deleted: boolean;
  version: string;
  title: string;
  price: number;
  qty: number;
}

function description(i: number, revision: number): string {
  const paragraphs = Array.from({ length: 1 + (i % 4) }, (_, p) => `<p>Revision ${revision} of item ${i}, part ${p}: ${WORDS[(i + p) % WORDS.length]} and ${WORDS[(i * 7 + p) % WORDS.length]} for every room. ${'Made to last. '.repeat(20)}</p>`);
  return paragraphs.join('\n');
}

function workload(): { lines: string[][]; expected: Map<string, Expected> } {
  const line = (type: string, id: string, version: number, data?: Record<string, unknown>, action = 'save') =>
    JSON.stringify({ type, tenant: TENANT, store_id: 1, id, action, source_version: version, ...(data ? { data } : {}) });
  const saves: string[] = [];
  const aspects: string[] = [];
  const later: string[] = [];
  const expected = new Map<string, Expected>();
  for (let i = 0; i < PRODUCTS; i++) {
    const id = `item-${i}`;
    const firstPrice = 10 + i;
    saves.push(line('product', id, 1000, { sku: id, name: `Item ${i}`, description: description(i, 1), price: firstPrice, qty: 1 }));
    aspects.push(line('product_price', id, 2000, { price: 20 + i, currency: 'EUR' }));
    aspects.push(line('product_stock', id, 2500, { qty: 100 + i, stock_status: 'in_stock', is_in_stock: true }));
    let state: Expected = { deleted: false, version: '1000', title: `Item ${i}`, price: 20 + i, qty: 100 + i };
    if (i % 3 === 0) {
      later.push(line('product', id, 3000, { sku: id, name: `Item ${i} (new)`, description: description(i, 2), price: 30 + i, qty: 3 }));
      // The save is newer than the price (2000) and the stock (2500): its own values win.
      state = { ...state, version: '3000', title: `Item ${i} (new)`, price: 30 + i, qty: 3 };
    }
    if (i % 2 === 0) {
      later.push(line('product_price', id, 4000, { price: 40 + i, currency: 'EUR' }));
      state = { ...state, price: 40 + i };
    }
    if (i % 10 === 5) {
      later.push(line('product', id, 5000, undefined, 'delete'));
      state = { ...state, deleted: true };
    }
    expected.set(`${TENANT}/product/${id}/1`, state);
  }
  return { lines: [saves, aspects, later], expected };
}

interface LandedPoint {
  doc_key: string;
  chunk_index: number;
  source_version: string;
  title: string;
  price: number;
  qty: number;
}

/** Every point of the collection, read with the vendor's own client. */
async function landed(harness: PipelineHarness, store: { lancedbPath: string; collection: string }): Promise<LandedPoint[]> {
  const pick = (payload: Record<string, unknown>): LandedPoint => ({
    doc_key: String(payload.doc_key),
    chunk_index: Number(payload.chunk_index),
    source_version: String(payload.source_version),
    title: String(payload.title),
    price: Number(payload.price),
    qty: Number(payload.qty),
  });
  if (harness.storeKind === 'lancedb') {
    const db = await connect(store.lancedbPath);
    try {
      const table = await db.openTable(store.collection);
      const rows = await table.query().select(['payload']).limit(1_000_000).toArray();
      table.close();
      return rows.map((row: Record<string, unknown>) => pick(JSON.parse(String(row.payload)) as Record<string, unknown>));
    } finally {
      db.close();
    }
  }
  const client = new QdrantClient({ url: harness.qdrant!.url, checkCompatibility: false });
  const points: LandedPoint[] = [];
  let offset: string | number | undefined;
  do {
    const page = await client.scroll(store.collection, { limit: 1000, with_payload: true, with_vector: false, ...(offset === undefined ? {} : { offset }) });
    points.push(...page.points.map((p) => pick(p.payload as Record<string, unknown>)));
    offset = (page.next_page_offset ?? undefined) as string | number | undefined;
  } while (offset !== undefined);
  return points;
}

function compare(points: LandedPoint[], expected: Map<string, Expected>): string[] {
  const problems: string[] = [];
  const byDoc = new Map<string, LandedPoint[]>();
  for (const point of points) byDoc.set(point.doc_key, [...(byDoc.get(point.doc_key) ?? []), point]);
  for (const [docKey, want] of expected) {
    const have = (byDoc.get(docKey) ?? []).sort((a, b) => a.chunk_index - b.chunk_index);
    if (want.deleted) {
      if (have.length > 0) problems.push(`${docKey}: deleted but has ${have.length} points`);
      continue;
    }
    if (have.length === 0) {
      problems.push(`${docKey}: no points`);
      continue;
    }
    if (have.some((p, i) => p.chunk_index !== i)) problems.push(`${docKey}: chunk indexes ${have.map((p) => p.chunk_index).join(',')}`);
    for (const p of have) {
      const got = { version: p.source_version, title: p.title, price: p.price, qty: p.qty };
      const wanted = { version: want.version, title: want.title, price: want.price, qty: want.qty };
      if (JSON.stringify(got) !== JSON.stringify(wanted)) {
        problems.push(`${docKey}#${p.chunk_index}: ${JSON.stringify(got)} instead of ${JSON.stringify(wanted)}`);
        break;
      }
    }
  }
  for (const docKey of byDoc.keys()) if (!expected.has(docKey)) problems.push(`${docKey}: not published`);
  return problems;
}

describe.each<StoreKind>(['lancedb', 'qdrant'])('1,000 products with racing saves, prices and stock into %s', (storeKind) => {
  let harness: PipelineHarness;
  const { lines, expected } = workload();

  beforeAll(async () => {
    harness = await PipelineHarness.create(storeKind, { RAGSYNC_PARTITIONS: '3' });
  });

  afterAll(async () => {
    if (harness?.qdrant) expect(harness.qdrant.violations).toEqual([]);
    await harness?.close();
  });

  it('ends with exactly the published state, live and after a replay into an empty store', async () => {
    // Small slices and full concurrency: many store batches of the three inputs in flight at once.
    await harness.start({ maxRecordsPerCall: 50, concurrency: 8 });
    for (const batch of lines) await harness.publishLines(batch);
    await harness.settle(240_000);
    expect(compare(await landed(harness, harness.config.store), expected)).toEqual([]);

    const original = harness.config;
    await harness.stop();
    const fresh = storeKind === 'lancedb' ? { lancedbPath: `${original.store.lancedbPath}-replay` } : { collection: `${original.store.collection}_replay` };
    harness.config = { ...original, store: { ...original.store, ...fresh }, runner: { ...original.runner, groupPrefix: `${original.topics.prefix}replay.` } };
    try {
      await harness.start({ maxRecordsPerCall: 50, concurrency: 8 });
      await harness.settle(240_000, harness.config.runner.groupPrefix);
      expect(compare(await landed(harness, harness.config.store), expected)).toEqual([]);
    } finally {
      await harness.stop();
      harness.config = original;
    }
  });
});
