import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { startShopwareServer, type ShopwareTestServer } from '../../support/shopware-server.js';
import { startWooServer, type WooTestServer } from '../../support/woocommerce-server.js';

const TAX_ID = '4f6a1c0e9b2d47c8a3e5f7091b2c3d4e';
const HOOK_SECRET = 'hook-secret-7f3a9c';
const WRONG_SECRET = 'not-the-shopware-secret-51c2';

/** `ragsync test-connection` as a user runs it, against loopback shops and a receiver. */
describe('ragsync test-connection', () => {
  let shopware: ShopwareTestServer;
  let woo: WooTestServer;
  let receiver: Server;
  let receiverUrl: string;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-tc-'));

  beforeAll(async () => {
    shopware = await startShopwareServer({ taxIds: [TAX_ID] });
    woo = await startWooServer();
    // A receiver that takes POST only: HEAD gets 405, which still proves it is there.
    receiver = createServer((request, response) => {
      response.statusCode = request.method === 'POST' ? 200 : 405;
      response.end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/catalog`;
    const tenants = {
      garden: {
        secrets: [],
        stores: [0],
        targets: {
          shopware: { url: shopware.url, clientId: shopware.clientId, clientSecret: shopware.clientSecret, taxId: TAX_ID },
          woocommerce: { url: woo.url, consumerKey: woo.consumerKey, consumerSecret: woo.consumerSecret },
          webhooks: [{ name: 'crm', url: receiverUrl, secret: HOOK_SECRET }],
        },
      },
      kitchen: { secrets: [], stores: [0], targets: { shopware: { url: shopware.url, clientId: shopware.clientId, clientSecret: WRONG_SECRET, taxId: TAX_ID } } },
    };
    env = { RAGSYNC_TENANTS: JSON.stringify(tenants), LANCEDB_PATH: join(dir, 'lancedb'), QDRANT_URL: '' };
  }, 30_000);

  afterAll(async () => {
    await shopware?.close();
    await woo?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('checks every target, one line each, the failing one with its cause, and exits 1', async () => {
    const result = await runCli(['test-connection'], env);
    const lines = result.out.trim().split('\n');
    const line = (id: string) => lines.find((l) => l.split(/\s+/)[1] === id) ?? `(no line for ${id})`;
    for (const id of ['kafka', 'registry', 'redis', 'store', 'garden/shopware', 'garden/woocommerce', 'garden/webhook/crm']) expect(line(id), result.out + result.err).toMatch(/^ok\s/);
    expect(line('kitchen/shopware')).toMatch(/^FAIL\s+kitchen\/shopware\s+.*401/);
    expect(lines).toHaveLength(8);
    expect(result.code).toBe(1);
    // Credentials never printed.
    for (const secret of [WRONG_SECRET, shopware.clientSecret, woo.consumerSecret, HOOK_SECRET]) expect(result.out + result.err).not.toContain(secret);
  }, 60_000);

  it('checks only what is named: a tenant, a kind, or one target; refuses what is not configured', async () => {
    const garden = await runCli(['test-connection', 'garden'], env);
    expect(garden.out.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['ok garden/shopware', 'ok garden/woocommerce', 'ok garden/webhook/crm']);
    expect(garden.code).toBe(0);
    const kind = await runCli(['test-connection', 'woocommerce'], env);
    expect(kind.out).toMatch(/^ok\s+garden\/woocommerce\s+/);
    expect(kind.code).toBe(0);
    const unknown = await runCli(['test-connection', 'cellar/shopware'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('not configured: cellar/shopware');
  }, 60_000);
});
