import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { parseKey } from '../../../src/core/keys.js';
import { HEADERS } from '../../../src/core/records.js';
import type { EntityType } from '../../../src/core/entities.js';
import { openChangeSink } from '../../../src/producers/connect.js';
import { createWebhookServer } from '../../../src/producers/magento/server.js';
import { signBody } from '../../../src/producers/magento/signature.js';
import { WorkerProcess } from '../../support/worker-process.js';
import { createProducerHarness, type ProducerHarness } from './harness.js';

const SECRET = 'webhook-integration-secret';
let h: ProducerHarness;
let app: FastifyInstance;

beforeAll(async () => {
  h = await createProducerHarness('webhook', { shop: { secrets: [SECRET], stores: [1, 2] } });
  app = createWebhookServer({ config: h.config, sink: h.sink, redis: h.redis });
});

afterAll(async () => {
  await app?.close();
  await h?.cleanup();
});

const TYPES: EntityType[] = ['product', 'category', 'cms_page', 'cms_block', 'promotion'];

function itemFor(i: number) {
  const type = TYPES[i % TYPES.length]!;
  const id = `e${i}`;
  const data: Record<string, unknown> = {
    product: { sku: `SKU-${i}`, name: `Lantern ${i}`, description: '<p>Warm light.</p>', categories: ['Outdoor', 'Lights'], attributes: { brand: 'Glowfield', color: 'Amber' }, price: '24.50', qty: 3 },
    category: { name: `Aisle ${i}`, level: 3, parent_names: ['Outdoor'], is_active: '1' },
    cms_page: { identifier: `page-${i}`, title: `Page ${i}`, content: '<h1>Hello</h1>', document_type_hint: 'general' },
    cms_block: { identifier: `block-${i}`, title: `Block ${i}`, content: 'Opening hours 9-17' },
    promotion: { name: `Deal ${i}`, discount_type: 'by_percent', discount_amount: 10, from_date: '2026-01-01 00:00:00', is_active: 1 },
  }[type] as Record<string, unknown>;
  return { type, id, action: 'save', store_id: 1 + (i % 2), data };
}

const batchBody = (batchId: string, items: unknown[]) => JSON.stringify({ type: 'batch', batch_id: batchId, timestamp: '2026-01-02T10:30:00.250Z', items });

const post = (target: FastifyInstance, body: string, signature = signBody(body, SECRET)) =>
  target.inject({ method: 'POST', url: '/api/webhooks/magento/shop/batch', payload: body, headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': signature } });

async function countAll(): Promise<number> {
  let n = 0;
  for (const records of (await h.readAllChanges()).values()) n += records.length;
  return n;
}

describe('the Magento webhook ingress on real Kafka', () => {
  it('publishes a signed batch of 50 mixed entities as exactly 50 decodable records with the right keys', async () => {
    const items = Array.from({ length: 50 }, (_, i) => itemFor(i));
    const sentAt = BigInt(Date.now()) * 1_000_000n;
    const response = await post(app, batchBody('batch-50', items));
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 50, records: 50, batch_id: 'batch-50' });

    const all = await h.readAllChanges();
    expect([...all.values()].reduce((n, r) => n + r.length, 0)).toBe(50);
    const versions: bigint[] = [];
    for (const item of items) {
      const record = all.get(item.type)!.find((r) => parseKey(r.key).entityId === item.id)!;
      expect(parseKey(record.key)).toEqual({ tenant: 'shop', entityType: item.type, entityId: item.id, storeId: item.store_id });
      expect(record.decoded).toMatchObject({ tenant: 'shop', entity_id: item.id, store_id: item.store_id, occurred_at: Date.UTC(2026, 0, 2, 10, 30, 0, 250) });
      versions.push(record.decoded!.source_version as bigint);
    }
    // Versions come from the ingress clock when the batch arrived, the item index breaking ties.
    expect(versions[0]!).toBeGreaterThanOrEqual(sentAt);
    expect(versions.map((v) => v - versions[0]!)).toEqual(items.map((_, i) => BigInt(i)));
    const product = all.get('product')!.find((r) => parseKey(r.key).entityId === 'e0')!;
    expect(product.decoded).toMatchObject({ sku: 'SKU-0', price: 24.5, brand: 'Glowfield', categories: ['Outdoor', 'Lights'] });
    expect(all.get('promotion')![0]!.decoded).toMatchObject({ discount_type: 'percentage', from_date: '2026-01-01' });
  });

  it('publishes nothing new when the same batch_id is delivered again', async () => {
    const before = await countAll();
    const response = await post(app, batchBody('batch-50', [itemFor(0)]));
    expect(response.json()).toMatchObject({ duplicate: true, accepted: 0 });
    expect(await countAll()).toBe(before);
  });

  it('answers 401 and publishes nothing for a body with one byte changed after signing', async () => {
    const before = await countAll();
    const body = batchBody('batch-tampered', [itemFor(0)]);
    const response = await post(app, body.replace('Lantern 0', 'Lantern 9'), signBody(body, SECRET));
    expect(response.statusCode).toBe(401);
    expect(await countAll()).toBe(before);
  });

  it('publishes the valid items of a batch and names the invalid one in the 202', async () => {
    const before = await countAll();
    const items = [itemFor(200), itemFor(201), { type: 'product', id: 'bad', action: 'save', store_id: 1, data: { sku: 'B', price: 'free' } }];
    const response = await post(app, batchBody('batch-invalid', items));
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      accepted: 2,
      records: 2,
      batch_id: 'batch-invalid',
      rejected: [{ index: 2, type: 'product', id: 'bad', fields: [{ path: 'data.name', message: 'is required' }, { path: 'data.price', message: 'expected a number, got "free"' }] }],
    });
    expect(await countAll()).toBe(before + 2);
  });

  it('keys an entity id containing / and # so it parses back to itself', async () => {
    const id = 'faq/returns#section 2';
    const response = await post(app, batchBody('batch-odd-id', [{ type: 'cms_page', id, action: 'save', store_id: 2, data: { title: 'Returns', content: 'Within 30 days.' } }]));
    expect(response.statusCode).toBe(202);
    const record = (await h.read('cms_page')).find((r) => parseKey(r.key).entityId === id)!;
    expect(record.key).toBe('shop/cms_page/faq%2Freturns%23section%202/2');
    expect(record.decoded).toMatchObject({ entity_id: id, identifier: id });
  });

  it('turns a delete with store_id 0 into one tombstone per configured store', async () => {
    const response = await post(app, batchBody('batch-delete', [{ type: 'category', id: 'gone', action: 'delete', store_id: 0 }]));
    expect(response.json()).toMatchObject({ accepted: 1, records: 2 });
    const tombstones = (await h.read('category')).filter((r) => parseKey(r.key).entityId === 'gone');
    expect(tombstones.map((r) => [parseKey(r.key).storeId, r.value])).toEqual(expect.arrayContaining([[1, null], [2, null]]));
    expect(tombstones).toHaveLength(2);
    // Both tombstones of the expanded delete carry the item's one version, in the headers.
    expect(tombstones[0]!.headers[HEADERS.sourceVersion]).toMatch(/^\d{19}$/);
    expect(tombstones[1]!.headers[HEADERS.sourceVersion]).toBe(tombstones[0]!.headers[HEADERS.sourceVersion]);
    expect(tombstones[0]!.headers[HEADERS.occurredAt]).toBe(String(Date.UTC(2026, 0, 2, 10, 30, 0, 250)));
  });

  it('keeps the last save of each product when one flush of 120 items goes out as three batches with the same timestamp', async () => {
    // The module sends at most 50 items per request and stamps all requests of a flush with the
    // flush's second. Revision r of lamp n is the r-th time it is queued; each batch holds the
    // lamp's newest content at the time the batch is built, so its last revision is the newest.
    const save = (n: number, revision: number) => ({
      type: 'product',
      id: `lamp-${n}`,
      action: 'save',
      store_id: 1,
      data: { sku: `LMP-${n}`, name: `Desk lamp ${n} (revision ${revision})`, description: `<p>Revision ${revision} of the copy.</p>`, price: 30 + revision, attributes: { finish: revision % 2 ? 'Brass' : 'Matte black' } },
    });
    const range = (from: number, to: number, revision: number) => Array.from({ length: to - from + 1 }, (_, i) => save(from + i, revision));
    // Lamps 30-49 sit at indexes 30-49 of the first batch and 0-19 of the second; 45-49 come a
    // third time at the head of the last batch; 70-79 move from indexes 40-49 to 5-14.
    const batches = [
      range(0, 49, 1),
      [...range(30, 49, 2), ...range(50, 79, 1)],
      [...range(45, 49, 3), ...range(70, 79, 2), ...range(80, 84, 1)],
    ];
    expect(batches.map((b) => b.length)).toEqual([50, 50, 20]);
    const lastSave = new Map<string, string>();
    for (const [i, items] of batches.entries()) {
      const body = JSON.stringify({ type: 'batch', batch_id: `mag-20260214081500-flush-${i}`, timestamp: '2026-02-14T08:15:00Z', items });
      const response = await post(app, body);
      expect(response.statusCode).toBe(202);
      for (const item of items) lastSave.set(item.id, item.data.name);
    }

    const records = (await h.read('product')).filter((r) => parseKey(r.key).entityId.startsWith('lamp-'));
    expect(records).toHaveLength(120);
    const winners = new Map<string, (typeof records)[number]>();
    for (const record of records) {
      const id = parseKey(record.key).entityId;
      const version = BigInt(record.headers[HEADERS.sourceVersion]!);
      expect(record.decoded!.source_version).toBe(version);
      const best = winners.get(id);
      if (!best || version > BigInt(best.headers[HEADERS.sourceVersion]!)) winners.set(id, record);
    }
    expect(winners.size).toBe(85);
    const won = Object.fromEntries([...winners].map(([id, record]) => [id, record.decoded!.name]));
    expect(won).toEqual(Object.fromEntries(lastSave));
  });

  describe('when the broker is unreachable', () => {
    it('answers 503 with Retry-After, and the resent batch is published once Kafka is back', async () => {
      const deadSink = await openChangeSink({ ...h.config, kafka: { ...h.config.kafka, brokers: ['127.0.0.1:1'], ackTimeoutMs: 3000 } });
      const down = createWebhookServer({ config: { ...h.config, kafka: { ...h.config.kafka, ackTimeoutMs: 3000 } }, sink: deadSink, redis: h.redis });
      const body = batchBody('batch-retry', [itemFor(100), itemFor(101)]);
      try {
        const response = await post(down, body);
        expect(response.statusCode).toBe(503);
        expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
      } finally {
        await down.close();
        await deadSink.close().catch(() => undefined);
      }
      const resent = await post(app, body);
      expect(resent.json()).toEqual({ accepted: 2, records: 2, batch_id: 'batch-retry' });
      const ids = [...(await h.read('product')), ...(await h.read('category'))].map((r) => parseKey(r.key).entityId);
      expect(ids.filter((id) => id === 'e100' || id === 'e101')).toHaveLength(2);
    });
  });
});

describe('ragsync webhook serve as a process', () => {
  it('answers 202 once Kafka holds every record of the batch (produced on its producer thread), dedupes a resend, and stops on SIGTERM', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      KAFKA_BROKERS: h.config.kafka.brokers.join(','),
      SCHEMA_REGISTRY_URL: h.config.registry.url,
      REDIS_URL: h.config.redis.url,
      RAGSYNC_TOPIC_PREFIX: h.config.topics.prefix,
      RAGSYNC_REDIS_PREFIX: h.config.redis.keyPrefix,
      RAGSYNC_TENANTS: JSON.stringify({ shop: { secrets: [SECRET], stores: [1, 2] } }),
      LOG_LEVEL: 'info',
    };
    const before = await countAll();
    const server = WorkerProcess.command('webhook serve', ['webhook', 'serve', '--port', String(port), '--host', '127.0.0.1'], env);
    try {
      await server.waitForLog('the server to listen', 'listening on');
      const items = Array.from({ length: 20 }, (_, i) => itemFor(500 + i));
      const body = batchBody('process-batch', items);
      const send = () => fetch(`http://127.0.0.1:${port}/api/webhooks/magento/shop/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': signBody(body, SECRET) } });
      const first = await send();
      expect(first.status).toBe(202);
      expect(await first.json()).toEqual({ accepted: 20, records: 20, batch_id: 'process-batch' });
      // Read at once: a 202 means Kafka acknowledged every record, not that they will arrive.
      expect((await countAll()) - before).toBe(20);
      const again = await send();
      expect(again.status).toBe(202);
      expect(await again.json()).toMatchObject({ duplicate: true, accepted: 0 });
      expect((await countAll()) - before).toBe(20);
    } finally {
      await server.stop();
    }
    expect(server.logged('stopped')).toHaveLength(1);
  }, 120_000);
});
