import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { configSchema } from '../../../../src/config/schema.js';
import type { ChangeMessage, ChangeSink } from '../../../../src/core/changes.js';
import { PermanentError, RetryableError, SystemError } from '../../../../src/core/errors.js';
import { parseKey } from '../../../../src/core/keys.js';
import { createWebhookServer } from '../../../../src/producers/magento/server.js';
import { signBody } from '../../../../src/producers/magento/signature.js';

/** Records what the ingress hands over; `failWith` makes the next publish reject like Kafka would. */
class RecordingSink implements ChangeSink {
  published: ChangeMessage[][] = [];
  failWith: Error | undefined;
  async publish(messages: ChangeMessage[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.published.push(messages);
  }
  async close(): Promise<void> {}
}

const SECRET = 'current-secret';
const OLD_SECRET = 'previous-secret';
const config = configSchema.parse({
  kafka: {}, registry: {}, redis: {}, topics: {}, chunking: {}, embedder: {}, store: {}, runner: {}, http: {},
  tenants: { acme: { secrets: [SECRET, OLD_SECRET], stores: [1, 2] } },
  webhook: { bodyLimitBytes: 4096 },
});

let app: FastifyInstance;
let sink: RecordingSink;

function setup(overrides: Partial<typeof config.webhook> = {}) {
  sink = new RecordingSink();
  app = createWebhookServer({ config: { ...config, webhook: { ...config.webhook, ...overrides } }, sink, redis: null });
  return app;
}

afterEach(async () => {
  await app?.close();
});

const batch = (items: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'batch', batch_id: 'mag-1', timestamp: '2026-01-02T10:30:00Z', items, ...extra });

const product = (id: string, store = 1) => ({ type: 'product', id, action: 'save', store_id: store, data: { sku: `SKU-${id}`, name: `Product ${id}` } });

function post(url: string, body: string, secret: string | null = SECRET, header = 'x-magento-webhook-signature') {
  return app.inject({
    method: 'POST',
    url,
    payload: body,
    headers: { 'content-type': 'application/json', ...(secret === null ? {} : { [header]: signBody(body, secret) }) },
  });
}

describe('the Magento webhook ingress', () => {
  describe('when a signed batch arrives', () => {
    it('publishes one record per item and answers 202 with the count', async () => {
      setup();
      const response = await post('/api/webhooks/magento/acme/batch', batch([product('1'), product('2'), { type: 'cms_block', id: 'footer', action: 'delete', store_id: 2 }]));
      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ accepted: 3, records: 3, batch_id: 'mag-1' });
      expect(sink.published).toHaveLength(1);
      expect(sink.published[0]!.map((m) => parseKey(m.key).entityId)).toEqual(['1', '2', 'footer']);
    });

    it('gives later items of the batch higher versions', async () => {
      setup();
      await post('/api/webhooks/magento/acme/batch', batch([product('1'), product('1')]));
      const [first, second] = sink.published[0]!;
      expect(second!.sourceVersion - first!.sourceVersion).toBe(1n);
      expect(first!.sourceVersion).toBe(BigInt(Date.UTC(2026, 0, 2, 10, 30)) * 1_000_000n);
      expect(first!.occurredAt).toBe(Date.UTC(2026, 0, 2, 10, 30));
    });

    it('accepts a signature made with a secret being rotated out, and the X-Rag-Signature alias', async () => {
      setup();
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]), OLD_SECRET)).statusCode).toBe(202);
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]), SECRET, 'x-rag-signature')).statusCode).toBe(202);
    });

    it('reads plan-format items without store_id as store 0, one record per configured store', async () => {
      setup();
      const body = JSON.stringify({ batch_id: 'p-1', timestamp: '2026-01-02T10:30:00Z', items: [{ type: 'cms_page', id: 'privacy-policy', action: 'save', data: { title: 'Privacy', content: '<p>x</p>' } }], signature: 'ignored' });
      const response = await post('/api/webhooks/magento/acme/batch', body);
      expect(response.statusCode).toBe(202);
      expect(sink.published[0]!.map((m) => parseKey(m.key).storeId)).toEqual([1, 2]);
    });
  });

  describe('when the signature is wrong', () => {
    it('answers 401 for a body changed after signing and publishes nothing', async () => {
      setup();
      const body = batch([product('1')]);
      const response = await app.inject({ method: 'POST', url: '/api/webhooks/magento/acme/batch', payload: body.replace('Product', 'Produce'), headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': signBody(body, SECRET) } });
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe('invalid_signature');
      expect(sink.published).toHaveLength(0);
    });

    it('answers 401 when the header is missing or signed with an unknown secret', async () => {
      setup();
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]), null)).json().error).toBe('missing_signature');
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]), 'guess')).statusCode).toBe(401);
    });
  });

  it('answers 404 for an unknown tenant', async () => {
    setup();
    expect((await post('/api/webhooks/magento/other/batch', batch([product('1')]))).statusCode).toBe(404);
  });

  describe('when the body is invalid', () => {
    it('names every failing item by index and publishes nothing', async () => {
      setup();
      const items = [product('1'), product('2'), product('3'), { type: 'product', id: '4', action: 'save', store_id: 1, data: { sku: 'X' } }, { type: 'widget', id: '5', action: 'save', data: {} }];
      const response = await post('/api/webhooks/magento/acme/batch', batch(items));
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        error: 'validation_failed',
        items: [
          { index: 3, fields: [{ path: 'data.name', message: 'is required' }] },
          { index: 4, fields: [{ path: 'type' }] },
        ],
      });
      expect(sink.published).toHaveLength(0);
    });

    it('answers 400 for malformed JSON and for a missing timestamp', async () => {
      setup();
      expect((await post('/api/webhooks/magento/acme/batch', '{"items": [')).json().error).toBe('malformed_json');
      const noTime = await post('/api/webhooks/magento/acme/batch', JSON.stringify({ batch_id: 'b', items: [product('1')] }));
      expect(noTime.statusCode).toBe(400);
      expect(noTime.json().fields).toEqual([{ path: 'timestamp', message: 'is required' }]);
    });

    it('answers 413 for a body over the limit', async () => {
      setup();
      const big = batch([{ ...product('1'), data: { sku: 'S', name: 'x'.repeat(5000) } }]);
      expect((await post('/api/webhooks/magento/acme/batch', big)).statusCode).toBe(413);
    });

    it('answers 401 for a timestamp older than the maximum age', async () => {
      setup({ maxAgeSeconds: 300 });
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]))).json().error).toBe('stale_timestamp');
      const fresh = batch([product('1')], { timestamp: new Date().toISOString() });
      expect((await post('/api/webhooks/magento/acme/batch', fresh)).statusCode).toBe(202);
    });
  });

  describe('when Kafka does not acknowledge', () => {
    it('answers 503 with Retry-After', async () => {
      setup();
      sink.failWith = new RetryableError('Kafka did not acknowledge within 100 ms', { code: 'kafka_ack_timeout' });
      const response = await post('/api/webhooks/magento/acme/batch', batch([product('1')]));
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('30');
      expect(response.json().error).toBe('kafka_ack_timeout');
    });

    it('answers 503 when a topic is missing, so Magento keeps the batch', async () => {
      setup();
      sink.failWith = new SystemError('missing topic(s) ragsync.changes.product', { code: 'topic_missing' });
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]))).statusCode).toBe(503);
    });

    it('answers 400 when the sink refuses a value as not matching its schema', async () => {
      setup();
      sink.failWith = new PermanentError('record 0 does not match its schema', { code: 'schema_mismatch' });
      expect((await post('/api/webhooks/magento/acme/batch', batch([product('1')]))).statusCode).toBe(400);
    });
  });

  describe('when a body does not fit the batch format', () => {
    it('takes a single-entity body posted to /batch', async () => {
      setup();
      const body = JSON.stringify({ ...product('7'), timestamp: '2026-01-02T10:30:00Z' });
      expect((await post('/api/webhooks/magento/acme/batch', body)).json()).toMatchObject({ accepted: 1, records: 1 });
    });

    it('refuses more than 1000 items, because the item index is the version\'s last three digits', async () => {
      setup({ bodyLimitBytes: 1024 * 1024 });
      const response = await post('/api/webhooks/magento/acme/batch', batch(Array.from({ length: 1001 }, (_, i) => product(String(i)))));
      expect(response.statusCode).toBe(400);
      expect(response.json().fields[0].path).toBe('items');
    });
  });

  describe('on the single-entity routes', () => {
    it('takes the type from the route and turns /delete into a tombstone per store', async () => {
      setup();
      const body = JSON.stringify({ id: 'summer-sale', store_id: 0, timestamp: 1767349800 });
      const response = await post('/api/webhooks/magento/acme/promotion/delete', body);
      expect(response.statusCode).toBe(202);
      expect(sink.published[0]!.map((m) => [m.type, parseKey(m.key).storeId, m.value])).toEqual([
        ['promotion', 1, null],
        ['promotion', 2, null],
      ]);
    });

    it('refuses a body whose type does not match the route', async () => {
      setup();
      const body = JSON.stringify({ ...product('1'), timestamp: '2026-01-02T10:30:00Z' });
      const response = await post('/api/webhooks/magento/acme/cms-page', body);
      expect(response.statusCode).toBe(400);
      expect(response.json().items[0].fields[0].path).toBe('type');
    });
  });

  describe('the status route', () => {
    it('answers without a signature and checks one that is sent', async () => {
      setup();
      const open = await app.inject({ method: 'GET', url: '/api/webhooks/magento/acme/status' });
      expect(open.json()).toEqual({ tenant: 'acme', status: 'ok', kafka: 'unknown', authenticated: false });
      const signed = await app.inject({ method: 'GET', url: '/api/webhooks/magento/acme/status', headers: { 'x-magento-webhook-signature': signBody('', SECRET) } });
      expect(signed.json().authenticated).toBe(true);
      const wrong = await app.inject({ method: 'GET', url: '/api/webhooks/magento/acme/status', headers: { 'x-magento-webhook-signature': signBody('', 'nope') } });
      expect(wrong.statusCode).toBe(401);
    });
  });
});
