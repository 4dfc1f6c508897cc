import { afterEach, describe, expect, it } from 'vitest';
import { ShopwareClient, ShopwareRejectedError, shopwareTestConnection } from '../../../src/connectors/shopware/index.js';
import { RetryableError, SystemError } from '../../../src/core/errors.js';
import { startShopwareServer, DEFAULT_CURRENCY_ID, type ShopwareServerOptions, type ShopwareTestServer } from '../../support/shopware-server.js';
import { shopwareTarget, TAX_ID } from './shopware-records.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the Shopware Admin API client', () => {
  let server: ShopwareTestServer;

  async function start(options: ShopwareServerOptions = {}): Promise<ShopwareClient> {
    server = await startShopwareServer(options);
    return new ShopwareClient({ url: server.url, clientId: server.clientId, clientSecret: server.clientSecret });
  }

  afterEach(async () => {
    expect(server.violations).toEqual([]);
    await server.close();
  });

  const apiCalls = () => server.requests.filter((r) => r.path !== '/api/oauth/token');

  describe('tokens', () => {
    it('uses one token for many calls', async () => {
      const client = await start();
      await Promise.all([client.version(), client.version(), client.searchProducts({ limit: 1 })]);
      await client.version();
      expect(server.tokensIssued).toBe(1);
    });

    it('fetches a new token before the old one expires', async () => {
      // 2 s tokens: refreshed after half their life (the 30 s margin is capped at half).
      const client = await start({ expiresIn: 2 });
      await client.version();
      await client.version();
      expect(server.tokensIssued).toBe(1);
      await sleep(1100);
      await client.version();
      expect(server.tokensIssued).toBe(2);
      expect(apiCalls().map((r) => r.status)).toEqual([200, 200, 200]);
    });

    it('answers a 401 with one fresh token, and the call succeeds', async () => {
      const client = await start();
      await client.version();
      server.revokeTokens();
      expect(await client.version()).toBe('6.6.7.0');
      expect(server.tokensIssued).toBe(2);
      expect(apiCalls().map((r) => r.status)).toEqual([200, 401, 200]);
    });

    it('turns a throttled token endpoint into a retryable error with its wait', async () => {
      await start({ throttle: [[2, 10]], resetThrottleOnSuccess: false });
      const fresh = () => new ShopwareClient({ url: server.url, clientId: server.clientId, clientSecret: server.clientSecret });
      await fresh().accessToken();
      await fresh().accessToken();
      const error = await fresh()
        .accessToken()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).code).toBe('shopware_auth_throttled');
      expect((error as RetryableError).retryAfterMs).toBeGreaterThanOrEqual(9000);
      expect((error as RetryableError).retryAfterMs).toBeLessThanOrEqual(10_000);
      expect((error as Error).message).toMatch(/^shopware 127\.0\.0\.1:\d+: token endpoint throttled \(FRAMEWORK__AUTH_THROTTLED\), retry in 10 s$/);
    });

    it('refuses wrong credentials with a system error that names the cause, not the secret', async () => {
      await start();
      const client = new ShopwareClient({ url: server.url, clientId: server.clientId, clientSecret: 'wrong-secret-8472' });
      const error = await client.version().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as Error).message).toBe(`shopware ${new URL(server.url).host}: 401 invalid_client (check clientId/clientSecret)`);
    });
  });

  describe('errors', () => {
    it('parses a 400 of the sync API into a permanent error with every pointer', async () => {
      const client = await start();
      const error = await client
        .sync({
          write: {
            entity: 'product',
            action: 'upsert',
            payload: [
              { id: '0123456789abcdef0123456789abcdef', productNumber: 'LMP-x', name: 'Desk lamp', taxId: TAX_ID, stock: 1, price: [{ currencyId: DEFAULT_CURRENCY_ID, gross: 1, net: 1, linked: true }] },
              { id: '1123456789abcdef0123456789abcdef', productNumber: 'LMP-y', taxId: TAX_ID, stock: 'many', price: [{ currencyId: DEFAULT_CURRENCY_ID, gross: 1, net: 1, linked: true }], colour: 'red' },
            ],
          },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShopwareRejectedError);
      const pointers = (error as ShopwareRejectedError).errors.map((e) => e.source?.pointer).sort();
      expect(pointers).toEqual(['/write/1/colour', '/write/1/name', '/write/1/stock']);
      expect((error as Error).message).not.toContain('\n');
      // One transaction: the good record was not written either.
      expect(server.products()).toEqual([]);
    });

    it('refuses a price array without the default currency', async () => {
      const client = await start();
      const error = (await client
        .sync({
          p: { entity: 'product', action: 'upsert', payload: [{ productNumber: 'LMP-z', name: 'Lamp', taxId: TAX_ID, stock: 1, price: [{ currencyId: TAX_ID, gross: 1, net: 1, linked: true }] }] },
        })
        .catch((e: unknown) => e)) as ShopwareRejectedError;
      expect(error.errors.map((e) => [e.source?.pointer, e.detail])).toEqual([['/p/0/price', 'No price for default currency defined']]);
    });

    it('refuses a search page over 500', async () => {
      const client = await start();
      const error = (await client.searchProducts({ limit: 501 }).catch((e: unknown) => e)) as ShopwareRejectedError;
      expect(error).toBeInstanceOf(ShopwareRejectedError);
      expect(error.errors[0]!.source!.pointer).toBe('/limit');
    });

    it('turns 5xx and 429 into retryable errors honouring Retry-After', async () => {
      const client = await start();
      server.setFault({ status: 429, retryAfterSeconds: 3, times: 1 });
      const limited = (await client.version().catch((e: unknown) => e)) as RetryableError;
      expect(limited).toBeInstanceOf(RetryableError);
      expect(limited.retryAfterMs).toBe(3000);
      server.setFault({ status: 502, times: 1 });
      const down = (await client.version().catch((e: unknown) => e)) as RetryableError;
      expect(down).toBeInstanceOf(RetryableError);
      expect(down.retryAfterMs).toBeUndefined();
    });
  });

  describe('testConnection', () => {
    it('fetches a token, makes one authorized call and sums it up in one line', async () => {
      await start();
      const summary = await shopwareTestConnection(shopwareTarget(server));
      expect(summary).toMatch(/^shopware 127\.0\.0\.1:\d+: ok, Shopware 6\.6\.7\.0, token valid for 600 s$/);
      expect(server.requests.map((r) => r.path)).toEqual(['/api/oauth/token', '/api/_info/version']);
    });

    it('throws with the cause in one line when the shop does not answer', async () => {
      await start();
      server.setOffline(true);
      const error = await shopwareTestConnection(shopwareTarget(server)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toMatch(/^shopware 127\.0\.0\.1:\d+: POST \/api\/oauth\/token failed: \S+/);
      expect((error as Error).message).not.toContain('\n');
    });
  });
});
