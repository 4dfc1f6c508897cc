import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ShopwareRejectedError } from '../../../src/connectors/shopware/index.js';
import { classify, PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import type { SinkResult } from '../../../src/core/sink.js';
import { createLogger } from '../../../src/observability/logger.js';
import { ShopwareSink } from '../../../src/sinks/shopware/index.js';
import { DeleteVersions } from '../../../src/sinks/shopware/deletes.js';
import { startShopwareServer, DEFAULT_CURRENCY_ID, type ShopwareTestServer } from '../../support/shopware-server.js';
import { uniqueName } from '../../support/unique.js';
import { CHANNEL_ID, price, productKey, remove, save, shopwareTarget, stock, TAX_ID, USD_ID } from './shopware-records.js';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const statuses = (results: SinkResult[]) => results.map((r) => r.status);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
afterAll(() => redis.disconnect());

describe('the Shopware sink', () => {
  let server: ShopwareTestServer;
  let sink: ShopwareSink;

  beforeEach(async () => {
    server = await startShopwareServer();
    sink = new ShopwareSink(shopwareTarget(server));
    await sink.connect();
  });

  afterEach(async () => {
    await sink.close();
    expect(server.violations).toEqual([]);
    await server.close();
  });

  const syncBodies = () => server.requests.filter((r) => r.path === '/api/_action/sync').map((r) => r.body as Record<string, { payload: Record<string, unknown>[] }>);

  it('names its target shopware:<host>', () => {
    expect(sink.target).toBe(`shopware:${new URL(server.url).host}`);
  });

  describe('when a product is not in the shop', () => {
    it('creates it under the md5 of its record key with every mapped field', async () => {
      expect(await sink.write([save('a100', 3n)])).toEqual([{ status: 'applied' }]);
      const product = server.product(md5(productKey('a100')));
      expect(product).toMatchObject({
        productNumber: 'LMP-a100',
        name: 'Reading lamp a100',
        description: '<p>Brass reading lamp with a <strong>linen</strong> shade.</p>',
        active: true,
        stock: 14,
        taxId: TAX_ID,
        price: [{ currencyId: DEFAULT_CURRENCY_ID, gross: 89.9, net: 75.5462, linked: true }],
        customFields: { ragsync_key: productKey('a100'), ragsync_version: '3', ragsync_price_version: '3', ragsync_stock_version: '3' },
      });
      expect(product!.visibilities).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{32}$/), salesChannelId: CHANNEL_ID, visibility: 30 }]);
      const calls = server.requests.filter((r) => r.path !== '/api/oauth/token');
      expect(calls.map((r) => r.path)).toEqual(['/api/search/product', '/api/_action/sync']);
      expect(calls[1]!.indexingBehavior).toBe('use-queue-indexing');
    });

    it('writes the same product again without a duplicate (visibilities keep their ids)', async () => {
      await sink.write([save('a100', 3n)]);
      await sink.write([save('a100', 4n, { name: 'Reading lamp, brass' })]);
      expect(server.products()).toHaveLength(1);
      expect(server.products()[0]).toMatchObject({ name: 'Reading lamp, brass', customFields: { ragsync_version: '4' } });
      expect(server.products()[0]!.visibilities).toHaveLength(1);
    });

    it('creates a product without a price inactive, at 0, until a price arrives', async () => {
      await sink.write([save('a101', 1n, { price: null, qty: null })]);
      expect(server.product(md5(productKey('a101')))).toMatchObject({ active: false, stock: 0, price: [{ currencyId: DEFAULT_CURRENCY_ID, gross: 0 }] });
      expect(server.product(md5(productKey('a101')))!.customFields).not.toHaveProperty('ragsync_price_version');
      await sink.write([save('a101', 2n, { price: null, name: 'Still no price' })]);
      expect(server.product(md5(productKey('a101')))).toMatchObject({ active: false, name: 'Still no price' });
      await sink.write([save('a101', 3n, { price: 25 })]);
      expect(server.product(md5(productKey('a101')))).toMatchObject({ active: true, price: [{ gross: 25 }] });
    });

    it('answers a price or stock change with a retryable failure and sends no write', async () => {
      const results = await sink.write([price('a102', 2n, 10), stock('a102', 2n, 3)]);
      expect(statuses(results)).toEqual(['failed', 'failed']);
      for (const result of results) expect((result as { error: unknown }).error).toBeInstanceOf(RetryableError);
      expect(syncBodies()).toEqual([]);
    });
  });

  describe('when a product was made by hand with the same productNumber', () => {
    it('updates it in place, takes it over, and never duplicates it', async () => {
      const handmade = server.addProduct({
        id: 'aa11bb22cc33dd44ee55ff6677889900',
        productNumber: 'LMP-b200',
        name: 'Lamp (typed in the admin)',
        taxId: TAX_ID,
        stock: 2,
        price: [{ currencyId: DEFAULT_CURRENCY_ID, gross: 70, net: 58.82, linked: true }],
        visibilities: [{ salesChannelId: CHANNEL_ID, visibility: 10 }],
      });
      expect(await sink.write([save('b200', 5n)])).toEqual([{ status: 'applied' }]);
      expect(server.products()).toHaveLength(1);
      expect(server.product(handmade.id)).toMatchObject({ name: 'Reading lamp b200', stock: 14, customFields: { ragsync_key: productKey('b200'), ragsync_version: '5' } });
      // Its visibilities are the merchant's: only a product ragsync creates gets the configured ones.
      expect(server.product(handmade.id)!.visibilities).toEqual([expect.objectContaining({ salesChannelId: CHANNEL_ID, visibility: 10 })]);
      // Found by its key from now on, even by a record without a SKU.
      expect(await sink.write([stock('b200', 6n, 1)])).toEqual([{ status: 'applied' }]);
      expect(await sink.write([remove('b200', 7n)])).toEqual([{ status: 'applied' }]);
      expect(server.products()).toEqual([]);
    });
  });

  describe('price and stock changes', () => {
    beforeEach(async () => {
      await sink.write([save('c300', 10n)]);
    });

    it('sends a stock change as {id, stock} and its version custom field only', async () => {
      expect(await sink.write([stock('c300', 11n, 6)])).toEqual([{ status: 'applied' }]);
      expect(syncBodies().at(-1)).toEqual({
        stock: { entity: 'product', action: 'upsert', payload: [{ id: md5(productKey('c300')), stock: 6, customFields: { ragsync_stock_version: '11' } }] },
      });
      expect(server.product(md5(productKey('c300')))).toMatchObject({ stock: 6, name: 'Reading lamp c300' });
    });

    it('sends a price change as {id, price[]} and its version custom field only', async () => {
      expect(await sink.write([price('c300', 11n, 99.5)])).toEqual([{ status: 'applied' }]);
      expect(syncBodies().at(-1)).toEqual({
        price: {
          entity: 'product',
          action: 'upsert',
          payload: [{ id: md5(productKey('c300')), price: [{ currencyId: DEFAULT_CURRENCY_ID, gross: 99.5, net: 83.6134, linked: true }], customFields: { ragsync_price_version: '11' } }],
        },
      });
    });

    it('adds a price in another currency next to the default one', async () => {
      await sink.write([price('c300', 12n, 109, 'USD')]);
      expect(server.product(md5(productKey('c300')))!.price).toEqual([
        { currencyId: DEFAULT_CURRENCY_ID, gross: 89.9, net: 75.5462, linked: true },
        { currencyId: USD_ID, gross: 109, net: 91.5966, linked: true },
      ]);
    });

    it('fails a price in a currency without an id, alone and permanently', async () => {
      const [result] = await sink.write([price('c300', 12n, 109, 'CHF')]);
      expect(classify((result as { error: unknown }).error)).toBe('permanent');
      expect(String((result as { error: Error }).error.message)).toContain('CHF');
    });

    it('does not let an older product record overwrite a newer price or stock', async () => {
      await sink.write([price('c300', 20n, 120), stock('c300', 21n, 40)]);
      expect(await sink.write([save('c300', 15n, { name: 'Reading lamp, renamed', price: 60, qty: 1 })])).toEqual([{ status: 'applied' }]);
      expect(server.product(md5(productKey('c300')))).toMatchObject({
        name: 'Reading lamp, renamed',
        stock: 40,
        price: [{ gross: 120 }],
        customFields: { ragsync_version: '15', ragsync_price_version: '20', ragsync_stock_version: '21' },
      });
    });
  });

  describe('the version guard', () => {
    beforeEach(async () => {
      await sink.write([save('d400', 10n), price('d400', 10n, 50), stock('d400', 10n, 5)]);
    });

    it.each([
      ['product', () => save('d400', 9n, { name: 'Older name' })],
      ['price', () => price('d400', 9n, 1)],
      ['stock', () => stock('d400', 9n, 1)],
    ])('drops an older %s record as stale and writes nothing', async (_name, older) => {
      const before = server.product(md5(productKey('d400')));
      const syncs = syncBodies().length;
      expect(await sink.write([older()])).toEqual([{ status: 'stale' }]);
      expect(syncBodies()).toHaveLength(syncs);
      expect(server.product(md5(productKey('d400')))).toEqual(before);
    });

    it.each([
      ['product', () => save('d400', 10n)],
      ['price', () => price('d400', 10n, 50)],
      ['stock', () => stock('d400', 10n, 5)],
    ])('applies an equal %s version again (a redelivery)', async (_name, same) => {
      expect(await sink.write([same()])).toEqual([{ status: 'applied' }]);
    });

    it('reads the versions of a whole batch in one search', async () => {
      const before = server.requests.length;
      await sink.write([save('d401', 1n), save('d402', 1n), price('d400', 11n, 51), stock('d400', 12n, 4)]);
      const calls = server.requests.slice(before).map((r) => r.path);
      expect(calls).toEqual(['/api/search/product', '/api/_action/sync']);
    });

    it('decides records of one key within a batch as if written one by one', async () => {
      expect(statuses(await sink.write([save('d400', 11n), save('d400', 13n, { name: 'Thirteen' }), save('d400', 12n)]))).toEqual(['applied', 'applied', 'stale']);
      expect(server.product(md5(productKey('d400')))).toMatchObject({ name: 'Thirteen', customFields: { ragsync_version: '13' } });
    });
  });

  describe('deletes', () => {
    it('deletes the product found by its key', async () => {
      await sink.write([save('e500', 1n)]);
      expect(await sink.write([remove('e500', 2n)])).toEqual([{ status: 'applied' }]);
      expect(server.products()).toEqual([]);
      expect(syncBodies().at(-1)).toEqual({ delete: { entity: 'product', action: 'delete', payload: [{ id: md5(productKey('e500')) }] } });
    });

    it('applies the delete of a product the shop does not have, without a write', async () => {
      expect(await sink.write([remove('e501', 2n)])).toEqual([{ status: 'applied' }]);
      expect(syncBodies()).toEqual([]);
    });

    it('drops a delete older than the product as stale', async () => {
      await sink.write([save('e502', 5n)]);
      expect(await sink.write([remove('e502', 4n)])).toEqual([{ status: 'stale' }]);
      expect(server.products()).toHaveLength(1);
    });
  });

  describe('deletes remembered in Redis', () => {
    let keyPrefix: string;
    let hash: string;
    const withRedis = () => new ShopwareSink(shopwareTarget(server), { redis, keyPrefix });

    beforeEach(() => {
      keyPrefix = `${uniqueName('shopware-deletes')}:`;
      hash = `${keyPrefix}shopware:${new URL(server.url).host}:deleted`;
    });

    afterEach(async () => {
      vi.restoreAllMocks();
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    });

    it('remembers the version of an acknowledged delete and drops older or equal records as stale, in any replica', async () => {
      const first = withRedis();
      await first.write([save('r1', 3n), price('r1', 4n, 20), stock('r1', 4n, 2)]);
      expect(await first.write([remove('r1', 5n)])).toEqual([{ status: 'applied' }]);
      expect(await redis.hget(hash, productKey('r1'))).toBe('5');
      const other = withRedis();
      const syncs = syncBodies().length;
      expect(await other.write([save('r1', 4n), save('r1', 5n), price('r1', 5n, 1), stock('r1', 3n, 1)])).toEqual([
        { status: 'stale' },
        { status: 'stale' },
        { status: 'stale' },
        { status: 'stale' },
      ]);
      expect(syncBodies()).toHaveLength(syncs);
      expect(server.products()).toEqual([]);
      // A redelivered delete is applied again; an older one is stale.
      expect(await other.write([remove('r1', 5n), remove('r1', 2n)])).toEqual([{ status: 'applied' }, { status: 'stale' }]);
    });

    it('lets a save newer than the delete recreate the product, then forgets the delete', async () => {
      const sink = withRedis();
      await sink.write([save('r2', 1n)]);
      await sink.write([remove('r2', 2n)]);
      expect(await sink.write([save('r2', 3n, { name: 'Back again' })])).toEqual([{ status: 'applied' }]);
      expect(server.product(md5(productKey('r2')))).toMatchObject({ name: 'Back again', customFields: { ragsync_version: '3' } });
      expect(await redis.hexists(hash, productKey('r2'))).toBe(0);
      // Now the product's own versions guard it again.
      expect(await sink.write([price('r2', 2n, 5)])).toEqual([{ status: 'stale' }]);
    });

    it('remembers a delete of a product the shop does not have (its save may still be in a retry tier)', async () => {
      const sink = withRedis();
      expect(await sink.write([remove('r3', 7n)])).toEqual([{ status: 'applied' }]);
      expect(syncBodies()).toEqual([]);
      expect(await redis.hget(hash, productKey('r3'))).toBe('7');
      expect(await sink.write([save('r3', 6n)])).toEqual([{ status: 'stale' }]);
      expect(server.products()).toEqual([]);
    });

    it('remembers a delete only once the shop acknowledged it, and forgets it only for an acknowledged save', async () => {
      const sink = withRedis();
      await sink.write([save('r4', 1n)]);
      server.setFault({ status: 503, paths: ['/api/_action/sync'] });
      await expect(sink.write([remove('r4', 2n)])).rejects.toBeInstanceOf(RetryableError);
      expect(await redis.hexists(hash, productKey('r4'))).toBe(0);
      expect(server.products()).toHaveLength(1);
      server.setFault(undefined);
      expect(await sink.write([remove('r4', 2n)])).toEqual([{ status: 'applied' }]);
      expect(await redis.hget(hash, productKey('r4'))).toBe('2');
      // A save the shop refuses recreates nothing, so the delete stays remembered.
      server.rejectWithoutPointer('LMP-r4', 'Integrity constraint violation on product LMP-r4');
      expect(await sink.write([save('r5', 1n), save('r4', 3n)]).then(statuses)).toEqual(['applied', 'failed']);
      expect(server.product(md5(productKey('r4')))).toBeUndefined();
      expect(await redis.hget(hash, productKey('r4'))).toBe('2');
    });

    it('reads the delete versions of a whole batch in one HMGET, next to the one search', async () => {
      const sink = withRedis();
      await sink.connect();
      const hmget = vi.spyOn(redis, 'hmget');
      const before = server.requests.length;
      await sink.write([save('r6', 1n), save('r7', 1n), remove('r8', 1n), price('r6', 2n, 3)]);
      expect(hmget).toHaveBeenCalledTimes(1);
      expect(hmget.mock.calls[0]).toEqual([hash, productKey('r6'), productKey('r7'), productKey('r8')]);
      expect(server.requests.slice(before).map((r) => r.path)).toEqual(['/api/search/product', '/api/_action/sync']);
    });

    it('never lowers a remembered delete version, and a save forgets only older deletes', async () => {
      const versions = new DeleteVersions(redis, keyPrefix, 'shop.example.com');
      const key = productKey('r9');
      await versions.update(new Map([[key, 12n]]), new Map());
      await versions.update(new Map([[key, 9n]]), new Map());
      expect(await versions.read([key])).toEqual(new Map([[key, 12n]]));
      await versions.update(new Map(), new Map([[key, 11n]]));
      expect(await versions.read([key])).toEqual(new Map([[key, 12n]]));
      await versions.update(new Map([[key, 123456789012345678901n]]), new Map());
      expect(await versions.read([key])).toEqual(new Map([[key, 123456789012345678901n]]));
      await versions.update(new Map(), new Map([[key, 123456789012345678902n]]));
      expect(await versions.read([key])).toEqual(new Map());
    });

    it('fails the batch as retryable, without writing, when Redis is away', async () => {
      const away = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { lazyConnect: true, enableOfflineQueue: false });
      const sink = new ShopwareSink(shopwareTarget(server), { redis: away, keyPrefix });
      const error = await sink.write([save('r10', 1n)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/^shopware 127\.0\.0\.1:\d+: could not read the delete versions in Redis: /);
      expect(syncBodies()).toEqual([]);
      away.disconnect();
    });

    it('works without Redis as before: a delete leaves nothing behind', async () => {
      await sink.write([save('r11', 1n), remove('r11', 2n)]);
      expect(await sink.write([save('r11', 1n)])).toEqual([{ status: 'applied' }]);
      expect(server.products()).toHaveLength(1);
    });
  });

  describe('when Shopware refuses records', () => {
    it('fails the record a 400 points at (record 3 of 100) with its detail and writes the 99 others', async () => {
      server.rejectProductNumber('LMP-f3', 'name', 'The name contains a word this shop does not allow.');
      const records = Array.from({ length: 100 }, (_, i) => save(`f${i}`, 1n));
      const results = await sink.write(records);
      expect(statuses(results).filter((s) => s === 'applied')).toHaveLength(99);
      const refused = results[3] as { status: string; error: ShopwareRejectedError };
      expect(refused.status).toBe('failed');
      expect(refused.error).toBeInstanceOf(PermanentError);
      expect(refused.error.message).toContain('The name contains a word this shop does not allow.');
      expect(refused.error.message).toContain('/upsert/3/name');
      expect(refused.error.errors[0]!.source!.pointer).toBe('/upsert/3/name');
      expect(server.products()).toHaveLength(99);
      expect(server.productByNumber('LMP-f3')).toBeUndefined();
      expect(syncBodies()).toHaveLength(2);
    });

    it('finds the refused record by halving when the 400 has no pointer', async () => {
      server.rejectWithoutPointer('LMP-g5', 'Integrity constraint violation on product LMP-g5');
      const results = await sink.write(Array.from({ length: 16 }, (_, i) => save(`g${i}`, 1n)));
      expect(statuses(results).map((s, i) => (s === 'failed' ? i : -1)).filter((i) => i >= 0)).toEqual([5]);
      expect((results[5] as { error: Error }).error.message).toContain('Integrity constraint violation');
      expect(server.products()).toHaveLength(15);
      expect(syncBodies().length).toBeLessThanOrEqual(1 + 2 * 4);
    });

    it('fails a record whose SKU belongs to another key, alone', async () => {
      await sink.write([save('h1', 1n, { sku: 'LMP-shared' })]);
      const results = await sink.write([save('h2', 1n, { sku: 'LMP-shared' }), save('h3', 1n)]);
      expect(statuses(results)).toEqual(['failed', 'applied']);
      expect((results[0] as { error: Error }).error.message).toContain('LMP-shared');
    });

    it('sends records in sync requests of batchSize entries', async () => {
      const small = new ShopwareSink(shopwareTarget(server, { batchSize: 10 }));
      await small.write(Array.from({ length: 25 }, (_, i) => save(`k${i}`, 1n)));
      expect(syncBodies().map((b) => b.upsert!.payload.length)).toEqual([10, 10, 5]);
      expect(server.products()).toHaveLength(25);
    });
  });

  describe('records that are not for this shop', () => {
    it('applies records of other stores and other entity types without any request', async () => {
      const before = server.requests.length;
      const category = { topic: 'changes.category', key: 'lumen/category/7/0', value: { name: 'Lamps' }, sourceVersion: 1n, occurredAt: 0 };
      const results = await sink.write([save('m1', 1n, {}, 3), category, { ...price('m1', 1n, 5), value: null }]);
      expect(results).toEqual([{ status: 'applied' }, { status: 'applied' }, { status: 'applied' }]);
      expect(server.requests.length).toBe(before);
    });
  });

  describe('when the shop is down', () => {
    it('throws a retryable error with the wait Retry-After names', async () => {
      server.setFault({ status: 503, retryAfterSeconds: 7 });
      const error = await sink.write([save('n1', 1n)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).retryAfterMs).toBe(7000);
      expect((error as Error).message).toMatch(/^shopware 127\.0\.0\.1:\d+: POST \/api\/search\/product answered 503/);
    });

    it('throws a retryable error when the shop does not answer at all', async () => {
      server.setOffline(true);
      const error = await sink.write([save('n2', 1n)]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).not.toContain('\n');
    });

    it('writes everything once a flaky shop answers (half the calls 503)', async () => {
      server.setFault({ status: 503, probability: 0.5, paths: ['/api/_action/sync'] });
      const records = Array.from({ length: 20 }, (_, i) => save(`p${i}`, 1n));
      let results: SinkResult[] | undefined;
      for (let attempt = 0; attempt < 30 && results === undefined; attempt += 1) {
        results = await sink.write(records).catch((e: unknown) => {
          expect(e).toBeInstanceOf(RetryableError);
          return undefined;
        });
      }
      expect(results?.every((r) => r.status === 'applied')).toBe(true);
      expect(server.products()).toHaveLength(20);
    });
  });

  describe('secrets', () => {
    it('never puts the client secret or a token into errors or logs', async () => {
      const lines: string[] = [];
      const destination = new Writable({
        write(chunk, _encoding, callback) {
          lines.push(String(chunk));
          callback();
        },
      });
      const logger = createLogger({ level: 'debug', destination });
      const logged = new ShopwareSink(shopwareTarget(server), { logger });
      await logged.connect();
      server.rejectProductNumber('LMP-s2', 'name', 'Refused for the test.');
      const results = await logged.write([save('s1', 1n), save('s2', 1n)]);
      server.revokeTokens();
      await logged.write([stock('s1', 2n, 3)]);
      const wrong = new ShopwareSink(shopwareTarget(server, { clientSecret: 'not-the-secret-4711' }), { logger });
      const refused = await wrong.connect().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SystemError);
      expect((refused as Error).message).toMatch(/^shopware 127\.0\.0\.1:\d+: 401 invalid_client \(check clientId\/clientSecret\)$/);

      const texts = [...lines, (refused as Error).message, ...results.map((r) => JSON.stringify(r, (_k, v: unknown) => (v instanceof Error ? v.message : v)))];
      expect(lines.length).toBeGreaterThan(0);
      for (const secret of [server.clientSecret, 'not-the-secret-4711', ...server.issuedTokens()]) {
        for (const text of texts) expect(text).not.toContain(secret);
      }
    });
  });
});
