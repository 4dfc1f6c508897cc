import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { configSchema } from '../../../../src/config/schema.js';
import type { ChangeMessage, ChangeSink } from '../../../../src/core/changes.js';
import { PermanentError, RetryableError, SystemError } from '../../../../src/core/errors.js';
import { parseKey } from '../../../../src/core/keys.js';
import { createWebhookServer } from '../../../../src/producers/magento/server.js';
import { signBody } from '../../../../src/producers/magento/signature.js';
import { createVersionClock } from '../../../../src/producers/magento/version-clock.js';

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
/** What the server's version clock reads, in epoch ms; tests that check versions set it after setup(). */
let nowMs = Date.now();
/** The server's log lines, as parsed JSON. */
let logLines: Array<Record<string, unknown>> = [];

function setup(overrides: Partial<typeof config.webhook> = {}) {
  sink = new RecordingSink();
  nowMs = Date.now();
  logLines = [];
  const webhook = { ...config.webhook, ...overrides };
  const versionClock = createVersionClock({ maxLeadSeconds: webhook.maxVersionLeadSeconds, now: () => nowMs });
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  app = createWebhookServer({ config: { ...config, webhook }, sink, redis: null, versionClock, logger, now: () => nowMs });
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

    it('gives later items of the batch higher versions, from the time the batch arrived', async () => {
      setup();
      nowMs = Date.UTC(2026, 0, 2, 10, 30, 4, 125);
      await post('/api/webhooks/magento/acme/batch', batch([product('1'), product('1')]));
      const [first, second] = sink.published[0]!;
      expect(second!.sourceVersion - first!.sourceVersion).toBe(1n);
      expect(first!.sourceVersion).toBe(BigInt(nowMs) * 1_000_000n);
      expect(first!.occurredAt).toBe(Date.UTC(2026, 0, 2, 10, 30));
    });

    it('ranks a save in a later batch of the same second above an earlier save of the same product', async () => {
      // A queue flush of 120 items goes out as 50 + 50 + 20 with one timestamp.
      setup({ bodyLimitBytes: 1024 * 1024 });
      nowMs = Date.UTC(2026, 0, 2, 10, 30, 0, 600);
      const saveOf = (id: string, name: string) => ({ ...product(id), data: { sku: `SKU-${id}`, name } });
      const filler = (from: number, n: number) => Array.from({ length: n }, (_, i) => product(`f${from + i}`));
      const first = [...filler(0, 30), saveOf('x', 'Kettle, old'), ...filler(30, 19)];
      const second = [...filler(100, 5), saveOf('x', 'Kettle, new'), ...filler(105, 44)];
      const third = filler(200, 20);
      for (const [i, items] of [first, second, third].entries()) {
        expect((await post('/api/webhooks/magento/acme/batch', batch(items, { batch_id: `flush-${i}` }))).statusCode).toBe(202);
        nowMs += 30;
      }
      const saves = sink.published.flat().filter((m) => parseKey(m.key).entityId === 'x');
      const newest = saves.reduce((a, b) => (b.sourceVersion > a.sourceVersion ? b : a));
      expect(newest.value).toMatchObject({ name: 'Kettle, new' });
      const all = sink.published.map((messages) => messages.map((m) => m.sourceVersion));
      expect(all[1]![0]!).toBeGreaterThan(all[0]![49]!);
      expect(all[2]![0]!).toBeGreaterThan(all[1]![49]!);
    });

    it('takes an item\'s own updated_at as its occurred_at and refuses an unreadable one', async () => {
      setup();
      const items = [{ ...product('1'), updated_at: '2026-01-02 10:29:41' }, product('2')];
      expect((await post('/api/webhooks/magento/acme/batch', batch(items))).statusCode).toBe(202);
      expect(sink.published[0]!.map((m) => m.occurredAt)).toEqual([Date.UTC(2026, 0, 2, 10, 29, 41), Date.UTC(2026, 0, 2, 10, 30)]);
      const bad = await post('/api/webhooks/magento/acme/batch', batch([product('1'), { ...product('2'), updated_at: 'yesterday' }], { batch_id: 'mag-2' }));
      expect(bad.statusCode).toBe(202);
      expect(bad.json().rejected).toEqual([{ index: 1, type: 'product', id: '2', fields: [{ path: 'updated_at', message: 'expected an ISO 8601 date-time or epoch number, got "yesterday"' }] }]);
    });

    it('caps the version of a body dated in the future, so the next real update still wins', async () => {
      setup({ maxVersionLeadSeconds: 10 });
      nowMs = Date.UTC(2026, 0, 2, 10, 30, 0, 500);
      // Two minutes ahead: within the accepted window (ingress.maxFutureSeconds), beyond the version lead.
      await post('/api/webhooks/magento/acme/batch', batch([product('1')], { batch_id: 'future', timestamp: '2026-01-02T10:32:00Z' }));
      nowMs += 1000;
      await post('/api/webhooks/magento/acme/batch', batch([product('1')], { batch_id: 'real', timestamp: '2026-01-02T10:30:01Z' }));
      const [future, real] = sink.published.map((messages) => messages[0]!.sourceVersion);
      expect(future).toBe(BigInt(Date.UTC(2026, 0, 2, 10, 30, 10, 500)) * 1_000_000n);
      expect(real!).toBeGreaterThan(future!);
      expect(logLines.filter((l) => l.level === 40 && l.msg === 'sender time is ahead of the server clock: versions capped')).toMatchObject([
        { batch_id: 'future', capped_items: 1, max_version_lead_seconds: 10 },
      ]);
    });

    it('logs the versions of a batch, and at debug level when a timestamp is no later than an earlier one', async () => {
      setup();
      nowMs = Date.UTC(2026, 0, 2, 10, 30, 0, 700);
      await post('/api/webhooks/magento/acme/batch', batch([product('1'), product('2')], { batch_id: 'flush-a' }));
      nowMs += 25;
      await post('/api/webhooks/magento/acme/batch', batch([product('3')], { batch_id: 'flush-b' }));
      const published = logLines.filter((l) => l.msg === 'batch published').map((l) => [l.batch_id, l.versions]);
      const base = BigInt(Date.UTC(2026, 0, 2, 10, 30, 0, 700)) * 1_000_000n;
      expect(published).toEqual([
        ['flush-a', [base.toString(), (base + 1n).toString()]],
        ['flush-b', [(base + 25_000_000n).toString(), (base + 25_000_000n).toString()]],
      ]);
      expect(logLines.filter((l) => l.msg === 'timestamp not after an earlier request\'s: versions follow arrival order').map((l) => [l.level, l.batch_id])).toEqual([[20, 'flush-b']]);
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
    const mixed = () => [product('1'), product('2'), product('3'), { type: 'product', id: '4', action: 'save', store_id: 1, data: { sku: 'X' } }, { type: 'widget', id: '5', action: 'save', data: {} }];

    it('publishes the valid items and names every failing one by index, type and id in the 202', async () => {
      setup();
      const response = await post('/api/webhooks/magento/acme/batch', batch(mixed()));
      expect(response.statusCode).toBe(202);
      expect(response.json()).toMatchObject({
        accepted: 3,
        records: 3,
        rejected: [
          { index: 3, type: 'product', id: '4', fields: [{ path: 'data.name', message: 'is required' }] },
          { index: 4, type: 'widget', id: '5', fields: [{ path: 'type' }] },
        ],
      });
      expect(sink.published.flat().map((m) => parseKey(m.key).entityId)).toEqual(['1', '2', '3']);
    });

    it('with invalidItems refuse-batch, answers 400 naming every failing item and publishes nothing', async () => {
      setup({ invalidItems: 'refuse-batch' });
      const response = await post('/api/webhooks/magento/acme/batch', batch(mixed()));
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

    it('answers 400 and publishes nothing when no item is valid', async () => {
      setup();
      const response = await post('/api/webhooks/magento/acme/batch', batch([{ type: 'product', id: '4', action: 'save', data: { sku: 'X' } }]));
      expect(response.statusCode).toBe(400);
      expect(response.json().items).toEqual([{ index: 0, type: 'product', id: '4', fields: [{ path: 'data.name', message: 'is required' }] }]);
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

    it('refuses more than 1000 items in one request', async () => {
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
