import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import type { TenantConfig } from '../../../src/config/index.js';
import { FINGERPRINT_META_KEY, wooFingerprint } from '../../../src/connectors/woocommerce/fingerprint.js';
import { parseKey } from '../../../src/core/keys.js';
import { HEADERS } from '../../../src/core/records.js';
import { createWebhookServer } from '../../../src/producers/magento/server.js';
import { signWooBody } from '../../../src/producers/woocommerce/webhook-product.js';
import { createProducerHarness, type ProducerHarness } from './harness.js';

const WOO_SECRET = 'woo-hook-secret-c41d9e';
const TENANT = 'lighthouse';
const STORE = 3;
let h: ProducerHarness;
let app: FastifyInstance;
const logLines: string[] = [];

beforeAll(async () => {
  const woocommerce = { url: 'https://shop.example.test', consumerKey: 'ck_sample', consumerSecret: 'cs_sample', webhookSecret: WOO_SECRET, sourceStoreId: STORE };
  h = await createProducerHarness('woo-hook', { [TENANT]: { secrets: [], stores: [0], targets: { woocommerce, webhooks: [] } as unknown as TenantConfig['targets'] } });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  app = createWebhookServer({ config: h.config, sink: h.sink, redis: h.redis, logger: pino({ level: 'debug' }, sink) });
});

afterAll(async () => {
  await app?.close();
  await h?.cleanup();
});

/** A product as WooCommerce's REST API v3 (and so its webhook) renders it. */
function wooProduct(id: number, overrides: Record<string, unknown> = {}) {
  return {
    id,
    name: `Storm lantern ${id}`,
    slug: `storm-lantern-${id}`,
    status: 'publish',
    catalog_visibility: 'visible',
    sku: `LNT-${id}`,
    description: '<p>Wind-proof, burns 20 hours.</p>',
    short_description: '<p>Wind-proof lantern.</p>',
    price: '34.00',
    regular_price: '39.90',
    sale_price: '34.00',
    date_on_sale_from_gmt: '2026-02-01T00:00:00',
    date_on_sale_to_gmt: null,
    date_modified_gmt: '2026-02-14T08:15:30',
    manage_stock: true,
    stock_quantity: 17,
    stock_status: 'instock',
    categories: [{ id: 9, name: 'Lighting', slug: 'lighting' }, { id: 12, name: 'Camping', slug: 'camping' }],
    attributes: [{ id: 0, name: 'Finish', options: ['Brass', 'Black'] }, { id: 0, name: 'Brand', options: ['Beaconry'] }],
    images: [{ id: 5, src: 'https://shop.example.test/l.jpg', alt: 'Lantern, lit' }],
    meta_data: [{ id: 1, key: '_some_plugin', value: 'x' }],
    ...overrides,
  };
}

let delivery = 0;
function post(topic: string | undefined, body: string, options: { signature?: string | null; deliveryId?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json', 'user-agent': 'WooCommerce/9.6.0 Hookshot (WordPress/6.7.1)' };
  if (topic !== undefined) {
    headers['x-wc-webhook-topic'] = topic;
    headers['x-wc-webhook-resource'] = 'product';
    headers['x-wc-webhook-event'] = topic.split('.')[1]!;
    headers['x-wc-webhook-id'] = '17';
    headers['x-wc-webhook-delivery-id'] = options.deliveryId ?? `d${(delivery += 1)}`;
  }
  const signature = options.signature === undefined ? signWooBody(body, WOO_SECRET) : options.signature;
  if (signature !== null) headers['x-wc-webhook-signature'] = signature;
  return app.inject({ method: 'POST', url: `/api/webhooks/woocommerce/${TENANT}`, payload: body, headers });
}

const productRecords = async (id: number) => (await h.read('product')).filter((r) => parseKey(r.key).entityId === String(id));
const countAll = async () => [...(await h.readAllChanges()).values()].reduce((n, list) => n + list.length, 0);

describe('the WooCommerce product webhook on real Kafka', () => {
  it('answers the ping WooCommerce sends when a webhook is saved with 200 and publishes nothing', async () => {
    const response = await post(undefined, 'webhook_id=17', { signature: null, contentType: 'application/x-www-form-urlencoded' });
    expect(response.statusCode).toBe(200);
    expect(await countAll()).toBe(0);
  });

  it('refuses a wrong or missing signature with 401, says nothing more, and publishes nothing', async () => {
    const body = JSON.stringify(wooProduct(500));
    const wrong = await post('product.updated', body, { signature: signWooBody(body, 'another-secret') });
    const missing = await post('product.updated', body, { signature: null });
    const tampered = await post('product.updated', body.replace('Storm', 'Stormy'), { signature: signWooBody(body, WOO_SECRET) });
    for (const response of [wrong, missing, tampered]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: 'invalid_signature', message: 'the request is not signed with this tenant\'s webhook secret' });
    }
    expect(await countAll()).toBe(0);
  });

  it('answers 404 for a tenant without a WooCommerce webhook secret', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/webhooks/woocommerce/nobody', payload: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(404);
  });

  it('publishes a signed product.updated once, mapped to the product change, and not again for the same delivery', async () => {
    const body = JSON.stringify(wooProduct(501));
    const first = await post('product.updated', body, { deliveryId: 'a1b2c3' });
    expect(first.statusCode).toBe(202);
    const again = await post('product.updated', body, { deliveryId: 'a1b2c3' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ duplicate: true });

    const records = await productRecords(501);
    expect(records).toHaveLength(1);
    const version = BigInt(Date.UTC(2026, 1, 14, 8, 15, 30)) * 1_000_000n;
    expect(parseKey(records[0]!.key)).toEqual({ tenant: TENANT, entityType: 'product', entityId: '501', storeId: STORE });
    expect(records[0]!.headers[HEADERS.correlationId]).toBe('a1b2c3');
    expect(records[0]!.decoded).toMatchObject({
      tenant: TENANT,
      store_id: STORE,
      entity_id: '501',
      source_version: version,
      occurred_at: Date.UTC(2026, 1, 14, 8, 15, 30),
      sku: 'LNT-501',
      name: 'Storm lantern 501',
      description: '<p>Wind-proof, burns 20 hours.</p>',
      short_description: '<p>Wind-proof lantern.</p>',
      url_key: 'storm-lantern-501',
      categories: ['Lighting', 'Camping'],
      brand: 'Beaconry',
      attributes: { Finish: 'Brass, Black', Brand: 'Beaconry' },
      image_alt_texts: ['Lantern, lit'],
      status: 'enabled',
      visibility: 4,
      price: 39.9,
      special_price: 34,
      special_from_date: '2026-02-01',
      special_to_date: null,
      qty: 17,
      stock_status: 'in_stock',
    });
  });

  it('publishes a second delivery that shares the delivery id but carries another product', async () => {
    // WooCommerce derives the delivery id from the webhook id and the current second.
    const response = await post('product.updated', JSON.stringify(wooProduct(502)), { deliveryId: 'a1b2c3' });
    expect(response.statusCode).toBe(202);
    expect(await productRecords(502)).toHaveLength(1);
  });

  it('publishes nothing for ragsync\'s own write coming back (its fingerprint matches)', async () => {
    const written = wooProduct(503, { status: 'draft' });
    const echoed = { ...written, meta_data: [...written.meta_data, { id: 2, key: FINGERPRINT_META_KEY, value: wooFingerprint(written) }] };
    const response = await post('product.updated', JSON.stringify(echoed));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ accepted: 0, echo: true });
    expect(await productRecords(503)).toHaveLength(0);

    // Edited in the shop after ragsync's write: the stored fingerprint no longer matches.
    const edited = { ...echoed, name: 'Storm lantern, renamed in the shop' };
    expect((await post('product.updated', JSON.stringify(edited))).statusCode).toBe(202);
    const records = await productRecords(503);
    expect(records).toHaveLength(1);
    expect(records[0]!.decoded).toMatchObject({ name: 'Storm lantern, renamed in the shop', status: 'disabled' });
  });

  it('publishes product.deleted as a tombstone with the arrival time as its version', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const response = await post('product.deleted', JSON.stringify({ id: 501 }));
    expect(response.statusCode).toBe(202);
    const records = await productRecords(501);
    expect(records).toHaveLength(2);
    const tombstone = records.find((r) => r.value === null)!;
    expect(parseKey(tombstone.key)).toEqual({ tenant: TENANT, entityType: 'product', entityId: '501', storeId: STORE });
    expect(BigInt(tombstone.headers[HEADERS.sourceVersion]!)).toBeGreaterThanOrEqual(before);
  });

  it('answers other topics 200 without publishing', async () => {
    const before = await countAll();
    const response = await post('coupon.updated', JSON.stringify({ id: 4, code: 'spring' }));
    expect(response.statusCode).toBe(200);
    expect(await countAll()).toBe(before);
  });

  it('never writes the secret or a signature to the log', () => {
    const log = logLines.join('');
    expect(log).toContain('WooCommerce webhook signature rejected');
    expect(log).not.toContain(WOO_SECRET);
    expect(log).not.toContain(signWooBody(JSON.stringify(wooProduct(500)), WOO_SECRET));
  });
});
