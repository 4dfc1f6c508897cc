import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { WebhookTarget } from '../../../src/config/index.js';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { formatKey, parseKey } from '../../../src/core/keys.js';
import type { SinkRecord } from '../../../src/core/sink.js';
import { createWebhookServer } from '../../../src/producers/magento/server.js';
import { WebhookForwarderSink, webhookTestConnection } from '../../../src/sinks/webhook/index.js';
import { createProducerHarness, type DecodedRecord, type ProducerHarness } from '../producers/harness.js';

/**
 * The forwarder feeding ragsync's own Magento ingress (a real receiver of the format) on real
 * Kafka: what the ingress publishes, read back with a separate consumer, is what was forwarded.
 */
const SECRET = 'forwarder-shared-secret-7f3a';
const TENANT = 'harbor';
let h: ProducerHarness;
let ingress: FastifyInstance;
let batchUrl: string;

beforeAll(async () => {
  h = await createProducerHarness('forwarder', { [TENANT]: { secrets: [SECRET], stores: [1, 2] } });
  ingress = createWebhookServer({ config: h.config, sink: h.sink, redis: h.redis });
  await ingress.listen({ port: 0, host: '127.0.0.1' });
  batchUrl = `http://127.0.0.1:${(ingress.server.address() as AddressInfo).port}/api/webhooks/magento/${TENANT}/batch`;
});

afterAll(async () => {
  await ingress?.close();
  await h?.cleanup();
});

const target = (overrides: Partial<WebhookTarget> = {}): WebhookTarget => ({ name: 'rag-mirror', url: batchUrl, secret: SECRET, batchSize: 3, timeoutMs: 10_000, ...overrides });

const minutesAgo = (n: number) => Date.now() - n * 60_000;
let version = 1_000n;
const identity = (type: string, id: string, store: number, occurredAt: number) => ({ tenant: TENANT, store_id: store, entity_id: id, source_version: (version += 1n), occurred_at: occurredAt });

function record(type: 'product' | 'category' | 'cms_page' | 'cms_block' | 'promotion' | 'product_price', id: string, store: number, fields: Record<string, unknown> | null): SinkRecord {
  const occurredAt = minutesAgo(10) + Number(version % 1000n);
  const ident = identity(type, id, store, occurredAt);
  const entityType = type === 'product_price' ? 'product' : type;
  return {
    topic: `changes.${type}`,
    key: formatKey({ tenant: TENANT, entityType, entityId: id, storeId: store }),
    value: fields === null ? null : { ...ident, ...fields },
    sourceVersion: ident.source_version,
    occurredAt,
  };
}

const product = (id: string, store: number, name: string) =>
  record('product', id, store, {
    sku: `SKU-${id}`,
    name,
    description: '<p>Waxed canvas, brass buckles.</p>',
    short_description: 'A sturdy bag.',
    meta_title: null,
    meta_description: null,
    url_key: `bag-${id}`,
    categories: ['Bags', 'Travel'],
    brand: 'Quayside',
    attributes: { color: 'Olive', material: 'Canvas' },
    image_alt_texts: ['Bag, front view'],
    status: 'enabled',
    visibility: 4,
    price: 89.5,
    special_price: 79,
    special_from_date: '2026-03-01',
    special_to_date: null,
    currency: 'EUR',
    qty: 12,
    stock_status: 'in_stock',
  });

/** One record of every entity type, a delete, and a price aspect (not in the format). */
function catalogue(): SinkRecord[] {
  return [
    product('p-1', 1, 'Harbor duffel'),
    product('p-2', 2, 'Harbor tote'),
    record('category', 'c-7', 1, { name: 'Travel', description: null, url_path: 'bags/travel', full_path: 'Bags > Travel', meta_title: null, meta_description: null, product_count: 14, parent_names: ['Bags'], level: 3, is_active: false }),
    record('cms_page', 'returns', 2, { identifier: 'returns', title: 'Returns', content: '<p>Within 30 days.</p>', meta_title: 'Returns policy', meta_description: null, content_heading: 'Returns', is_active: true, document_type_hint: 'policy' }),
    record('cms_block', 'hours', 1, { identifier: 'hours', title: 'Opening hours', content: 'Mon-Fri 9-17', is_active: true }),
    record('promotion', 'r-3', 1, { name: 'Buy 2 get 1', description: null, coupon_code: null, discount_amount: 1, discount_type: null, discount_action: 'buy_x_get_y', discount_step: 2, conditions_summary: 'Bags only', from_date: '2026-01-01', to_date: null, is_active: true }),
    record('promotion', 'r-4', 2, { name: 'Ten off', description: 'Ten percent off', coupon_code: 'TEN', discount_amount: 10, discount_type: 'percentage', discount_action: 'by_percent', discount_step: null, conditions_summary: null, from_date: null, to_date: '2026-12-31', is_active: true }),
    record('category', 'c-9', 2, null),
    record('product_price', 'p-1', 1, { sku: 'SKU-p-1', price: 80, special_price: null, special_from_date: null, special_to_date: null, currency: 'EUR' }),
  ];
}

async function published(): Promise<DecodedRecord[]> {
  return [...(await h.readAllChanges()).values()].flat();
}

const withoutVersion = (value: Record<string, unknown> | null) => {
  if (value === null) return null;
  const { source_version: _v, ...rest } = value;
  return rest;
};

describe('the webhook forwarder feeding ragsync\'s own Magento ingress', () => {
  const sent = catalogue();

  it('publishes through the ingress exactly what it forwarded: entity, id, store, fields, time and order', async () => {
    const sink = new WebhookForwarderSink(target(), TENANT);
    await sink.connect();
    const results = await sink.write(sent);
    expect(results.map((r) => r.status)).toEqual(sent.map(() => 'applied'));

    const all = await published();
    // The price aspect has no item in the format: applied without being sent.
    const forwarded = sent.filter((r) => r.topic !== 'changes.product_price');
    expect(all).toHaveLength(forwarded.length);
    const order: bigint[] = [];
    for (const r of forwarded) {
      const match = all.filter((p) => p.key === r.key && p.headers['ragsync-source-version'] !== undefined);
      expect(match, r.key).toHaveLength(1);
      const got = match[0]!;
      expect(parseKey(got.key)).toEqual(parseKey(r.key));
      expect(withoutVersion(got.decoded)).toEqual(withoutVersion(r.value as Record<string, unknown> | null));
      expect(Number(got.headers['ragsync-occurred-at'])).toBe(r.occurredAt);
      order.push(BigInt(got.headers['ragsync-source-version']!));
    }
    // Versions follow the order the records were forwarded in, across the three batches.
    expect([...order].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(order);
    await sink.close();
  });

  it('publishes nothing again when the same records are forwarded again', async () => {
    const before = (await published()).length;
    const results = await new WebhookForwarderSink(target(), TENANT).write(sent);
    expect(results.every((r) => r.status === 'applied')).toBe(true);
    expect((await published()).length).toBe(before);
  });

  it('applies a record of a store outside `stores` without sending it', async () => {
    const before = (await published()).length;
    const results = await new WebhookForwarderSink(target({ stores: [1] }), TENANT).write([product('p-50', 2, 'Not for this receiver')]);
    expect(results).toEqual([{ status: 'applied' }]);
    expect((await published()).length).toBe(before);
  });

  it('fails only the item the receiver names as invalid, and applies the others', async () => {
    const before = (await published()).length;
    const broken = product('p-60', 1, 'placeholder');
    (broken.value as Record<string, unknown>).name = null;
    const results = await new WebhookForwarderSink(target(), TENANT).write([product('p-61', 1, 'Dock bag'), broken, product('p-62', 1, 'Pier bag')]);
    expect(results.map((r) => r.status)).toEqual(['applied', 'failed', 'applied']);
    const error = (results[1] as { error: unknown }).error;
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/refused product p-60 \(store 1\): data\.name is required/);
    expect((await published()).length).toBe(before + 2);
  });

  it('fails the named item of a batch the receiver refused as a whole, without throwing', async () => {
    const broken = product('p-70', 1, 'placeholder');
    (broken.value as Record<string, unknown>).name = { en: 'Sail bag' };
    const results = await new WebhookForwarderSink(target(), TENANT).write([broken]);
    expect(results[0]!.status).toBe('failed');
    expect((results[0] as { error: unknown }).error).toBeInstanceOf(PermanentError);
  });

  describe('when the secret is wrong', () => {
    it('throws a SystemError naming the receiver, never the secret, and nothing is published', async () => {
      const before = (await published()).length;
      const wrong = 'not-the-shared-secret-91c2';
      const lines: string[] = [];
      const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
      const error = await new WebhookForwarderSink(target({ secret: wrong }), TENANT, { logger }).write([product('p-80', 1, 'Keel bag')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      const text = `${(error as Error).message} ${JSON.stringify(error)} ${String((error as Error).stack)}`;
      expect((error as Error).message).toMatch(/webhook receiver rag-mirror \(http:\/\/127\.0\.0\.1:\d+\/api\/webhooks\/magento\/harbor\/batch\) refused the signature/);
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(SECRET);
      expect(lines.join('')).toContain('batch sent');
      expect(lines.join('')).not.toContain(wrong);
      expect((await published()).length).toBe(before);
      await expect(webhookTestConnection(target({ secret: wrong }))).rejects.toThrow(/refused the signature \(401\)/);
    });
  });

  it('proves the secret with the status route on test connection', async () => {
    await expect(webhookTestConnection(target())).resolves.toMatch(/reachable, secret accepted/);
  });

  describe('when the receiver answers 503 and then 200', () => {
    let proxy: FastifyInstance;
    let calls = 0;

    beforeAll(async () => {
      // In front of the ingress: the first request is turned away, the next ones passed on unchanged.
      proxy = Fastify();
      proxy.removeAllContentTypeParsers();
      proxy.addContentTypeParser('*', { parseAs: 'buffer' }, (_r, body, done) => done(null, body));
      proxy.post('/batch', async (request, reply) => {
        calls += 1;
        if (calls === 1) return reply.code(503).header('retry-after', '7').send({ error: 'maintenance', message: 'back soon' });
        const answer = await ingress.inject({ method: 'POST', url: `/api/webhooks/magento/${TENANT}/batch`, payload: request.body as Buffer, headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': String(request.headers['x-magento-webhook-signature']) } });
        return reply.code(answer.statusCode).header('content-type', 'application/json').send(answer.body);
      });
      await proxy.listen({ port: 0, host: '127.0.0.1' });
    });

    afterAll(async () => {
      await proxy?.close();
    });

    it('throws a RetryableError with the Retry-After, then applies the records once', async () => {
      const before = (await published()).length;
      const sink = new WebhookForwarderSink(target({ url: `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}/batch` }), TENANT);
      const records = [product('p-90', 1, 'Mooring bag'), product('p-91', 2, 'Anchor bag')];
      const error = await sink.write(records).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).retryAfterMs).toBe(7000);
      expect((await published()).length).toBe(before);
      expect((await sink.write(records)).map((r) => r.status)).toEqual(['applied', 'applied']);
      expect((await published()).length).toBe(before + 2);
      expect(calls).toBe(2);
    });
  });

  it('throws a RetryableError when the receiver cannot be reached', async () => {
    const error = await new WebhookForwarderSink(target({ url: 'http://127.0.0.1:9/batch', timeoutMs: 2000 }), TENANT).write([product('p-99', 1, 'Buoy bag')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/webhook receiver rag-mirror \(http:\/\/127\.0\.0\.1:9\/batch\) could not be reached/);
  });
});
