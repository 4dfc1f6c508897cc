import { afterEach, describe, expect, it } from 'vitest';
import { woocommerceTestConnection, WooClient } from '../../../src/connectors/woocommerce/index.js';
import { signUrl } from '../../../src/connectors/woocommerce/oauth.js';
import { classify, RetryableError } from '../../../src/core/errors.js';
import { startWooServer, type WooTestServer } from '../../support/woocommerce-server.js';
import { targetOf } from './woocommerce-fixtures.js';

const servers: WooTestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function shop(options: Parameters<typeof startWooServer>[0] = {}): Promise<WooTestServer> {
  const server = await startWooServer(options);
  servers.push(server);
  return server;
}

describe('WooCommerce authentication against the spec verifier', () => {
  it('signs requests over plain HTTP with OAuth 1.0a HMAC-SHA256 that the verifier accepts, query parameters included', async () => {
    const server = await shop();
    server.addProduct({ sku: 'LAMP-1', name: 'Desk lamp' });
    const client = new WooClient(targetOf(server));
    expect(client.authMode).toBe('oauth');
    const found = await client.get<{ sku: string }[]>('/products', { sku: 'LAMP-1,SOFA 2', per_page: 100 });
    expect(found.body.map((p) => p.sku)).toEqual(['LAMP-1']);
    await client.post('/products/batch', { update: [{ id: server.bySku('LAMP-1')!.id, name: 'Desk lamp, oak' }] });
    expect(server.bySku('LAMP-1')!.name).toBe('Desk lamp, oak');
    expect(server.requests.map((r) => [r.auth, r.status])).toEqual([['oauth', 200], ['oauth', 200]]);
  });

  it('accepts HMAC-SHA1 signatures too', async () => {
    const server = await shop();
    const client = new WooClient(targetOf(server), { signatureMethod: 'HMAC-SHA1' });
    await expect(client.get('/products', { per_page: 1 })).resolves.toMatchObject({ status: 200 });
  });

  it('refuses a wrongly signed request with WooCommerce 401, classified as a system error', async () => {
    const server = await shop();
    const client = new WooClient(targetOf(server, { consumerSecret: 'cs_not-the-secret-of-this-shop' }));
    const error = await client.get('/products', { per_page: 1 }).catch((e: unknown) => e);
    expect(classify(error)).toBe('system');
    expect((error as Error).message).toBe(
      `woocommerce ${new URL(server.url).host}: 401 woocommerce_rest_authentication_error Invalid signature - provided signature does not match. (check consumerKey/consumerSecret, the key needs read/write permission) (GET /products)`,
    );
    expect((error as Error).message).not.toContain('cs_');
    expect(server.authFailures).toEqual(['Invalid signature - provided signature does not match.']);
  });

  it('refuses a tampered query, a replayed nonce and an old timestamp', async () => {
    const server = await shop();
    const target = targetOf(server);
    const url = new URL(`${server.url}/wp-json/wc/v3/products?per_page=1`);
    const signed = signUrl('GET', url, { consumerKey: target.consumerKey, consumerSecret: target.consumerSecret });
    expect((await fetch(signed)).status).toBe(200);
    expect((await fetch(signed)).status).toBe(401);
    const tampered = new URL(signUrl('GET', url, { consumerKey: target.consumerKey, consumerSecret: target.consumerSecret }));
    tampered.searchParams.set('per_page', '100');
    expect((await fetch(tampered)).status).toBe(401);
    const old = signUrl('GET', url, { consumerKey: target.consumerKey, consumerSecret: target.consumerSecret, timestamp: Math.floor(Date.now() / 1000) - 16 * 60 });
    const answer = await fetch(old);
    expect(answer.status).toBe(401);
    expect(await answer.json()).toEqual({ code: 'woocommerce_rest_authentication_error', message: 'Invalid timestamp.', data: { status: 401 } });
    expect(server.authFailures).toEqual(['Invalid nonce - nonce has already been used.', 'Invalid signature - provided signature does not match.', 'Invalid timestamp.']);
  });

  it('uses HTTP Basic when the shop is behind HTTPS, and Basic over plain HTTP is not taken for a login', async () => {
    const server = await shop({ https: true });
    const basic = new WooClient(targetOf(server, { auth: 'basic' }));
    await expect(basic.get('/products', { per_page: 1 })).resolves.toMatchObject({ status: 200 });
    expect(server.requests.at(-1)!.auth).toBe('basic');
    server.https = false;
    const error = await basic.get('/products', { per_page: 1 }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('401 woocommerce_rest_cannot_view');
  });
});

describe('woocommerceTestConnection', () => {
  it('answers with one line naming the shop, the auth and the product count', async () => {
    const server = await shop();
    server.addProduct({ sku: 'A-1' });
    server.addProduct({ sku: 'A-2' });
    const line = await woocommerceTestConnection(targetOf(server));
    expect(line).toMatch(new RegExp(`^woocommerce ${new URL(server.url).host}: connected with OAuth 1.0a in [0-9]+ ms, 2 products$`));
  });

  it('throws a retryable error with Retry-After when the shop answers 503', async () => {
    const server = await shop();
    server.faults.unavailableRate = 1;
    server.faults.retryAfterSeconds = 7;
    const error = await woocommerceTestConnection(targetOf(server)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterMs).toBe(7000);
    expect((error as Error).message).toMatch(/^woocommerce 127\.0\.0\.1:[0-9]+: 503 http_503 503 Service Unavailable \(GET \/products\)$/);
  });

  it('throws a retryable error naming the cause when the shop is unreachable', async () => {
    const server = await shop();
    server.faults.offline = true;
    const error = await woocommerceTestConnection(targetOf(server)).catch((e: unknown) => e);
    expect(classify(error)).toBe('retryable');
    expect((error as Error).message).toMatch(/^woocommerce 127\.0\.0\.1:[0-9]+: unreachable: .+ \(GET \/products\)$/);
    expect((error as Error).message).not.toContain(server.consumerSecret);
  });
});
