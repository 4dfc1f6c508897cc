/**
 * `npm run bench -- --scenario commerce [--count 50000] [--partitions 6]`
 *
 * A price change published while a catalog backfill is being pushed to a shop: how long until the
 * shop shows the new price. `count` products are published to `changes.product`, a real
 * `ragsync run push-shopware push-shopware-price push-shopware-stock` worker pushes them to the
 * loopback Shopware of the test suite (it checks every request against the Admin API); once the
 * first product is in the shop, a price change of it is published to `changes.product_price`, and
 * the shop server is watched until it holds the new price. The product lane's progress at that
 * moment shows that the backfill was still under way. Prints the latency, the backfill's rate and
 * the worker's peak RSS.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import type { ChangeMessage } from '../src/core/changes.js';
import { formatKey } from '../src/core/keys.js';
import { withAdmin } from '../src/kafka/admin.js';
import { createKafka } from '../src/kafka/client.js';
import { KafkaChangeSink } from '../src/kafka/producer.js';
import { applyTopics } from '../src/kafka/topics.js';
import { productChangeSchema, productPriceChangeSchema } from '../src/schemas/zod/product.js';
import { PROJECT_ROOT, stackEnv, stackLayout } from '../src/stack/layout.js';
import { startShopwareServer } from '../test/support/shopware-server.js';

const TENANT = 'bench';
const TAX_ID = '4f6a1c0e9b2d47c8a3e5f7091b2c3d4e';
const say = (line: string) => console.log(line);
const rate = (n: number) => Math.round(n).toLocaleString('en-US');

export async function main(argv: string[]): Promise<void> {
  const { values: args } = parseArgs({ args: argv, options: { count: { type: 'string', default: '50000' }, partitions: { type: 'string', default: '6' } } });
  const count = Number(args.count);
  if (!Number.isInteger(count) || count < 1000) throw new Error('--count must be an integer of at least 1000');
  const shop = await startShopwareServer({ taxIds: [TAX_ID] });
  const prefix = `benchshop${Date.now().toString(36)}.`;
  const tenants = { [TENANT]: { secrets: [], stores: [0], targets: { shopware: { url: shop.url, clientId: shop.clientId, clientSecret: shop.clientSecret, taxId: TAX_ID, batchSize: 100 } } } };
  const env: Record<string, string> = {
    ...stackEnv(stackLayout()),
    RAGSYNC_TOPIC_PREFIX: prefix,
    RAGSYNC_REDIS_PREFIX: prefix,
    RAGSYNC_PARTITIONS: args.partitions!,
    RAGSYNC_TENANTS: JSON.stringify(tenants),
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig({ env });
  const kafka = createKafka(config);
  await withAdmin(kafka, (admin) => applyTopics(admin, config));
  const sink = new KafkaChangeSink(kafka, config);
  const key = (i: number) => formatKey({ tenant: TENANT, entityType: 'product', entityId: `P${i}`, storeId: 0 });
  const at = Date.now();
  try {
    say(`publishing ${rate(count)} products to ${prefix}changes.product (${args.partitions} partitions)…`);
    for (let from = 0; from < count; from += 5000) {
      const batch: ChangeMessage[] = [];
      for (let i = from; i < Math.min(count, from + 5000); i += 1) {
        const value = productChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: `P${i}`, source_version: 1n, occurred_at: at, sku: `BF-${i}`, name: `Garden chair ${i}`, description: `<p>Chair ${i} in oiled teak.</p>`, price: 100 + (i % 50), currency: 'EUR', qty: i % 40, stock_status: 'in_stock' });
        batch.push({ type: 'product', key: key(i), value, sourceVersion: 1n, occurredAt: at });
      }
      await sink.publish(batch);
    }

    const started = performance.now();
    const worker = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'ragsync.js'), 'run', 'push-shopware', 'push-shopware-price', 'push-shopware-stock', '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    worker.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const waitFor = async (what: string, check: () => boolean, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      while (!check()) {
        if (worker.exitCode !== null) throw new Error(`the worker exited with ${worker.exitCode}: ${stderr}`);
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      // Product P0 is among the first written; the price change is published once it is in the shop.
      await waitFor('the first products in the shop', () => shop.productByNumber('BF-0') !== undefined, 120_000);
      const before = shop.products().length;
      const newPrice = 77.7;
      const priceAt = Date.now();
      const value = productPriceChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: 'P0', source_version: 2n, occurred_at: priceAt, sku: 'BF-0', price: newPrice, currency: 'EUR' });
      const publishedAt = performance.now();
      await sink.publish([{ type: 'product_price', key: key(0), value, sourceVersion: 2n, occurredAt: priceAt }]);
      const gross = () => (shop.productByNumber('BF-0')?.price as { gross: number }[] | undefined)?.[0]?.gross;
      await waitFor('the new price in the shop', () => gross() === newPrice, 600_000);
      const latency = (performance.now() - publishedAt) / 1000;
      const during = shop.products().length;
      say(`price change during the backfill: in the shop ${latency.toFixed(2)} s after it was published (SLA 120 s); the backfill had written ${rate(before)} of ${rate(count)} products when it was published and ${rate(during)} when it landed`);
      await waitFor('the whole backfill in the shop', () => shop.products().length >= count, Math.max(300_000, count * 20));
      const seconds = (performance.now() - started) / 1000;
      say(`backfill: ${rate(count)} products in ${seconds.toFixed(1)} s from the worker's start = ${rate(count / seconds)} products/s to the Shopware test server (which checks every request in this process)`);
      say(`shop requests: ${shop.requests.length}, violations: ${shop.violations.length}`);
    } finally {
      worker.kill('SIGTERM');
      await exited;
    }
  } finally {
    await sink.close();
    await shop.close();
    await withAdmin(kafka, async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    });
  }
}
