import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseKey } from '../../../src/core/keys.js';
import type { ChangeSink } from '../../../src/core/changes.js';
import { openChangeSink, openRedis } from '../../../src/producers/connect.js';
import { startErpBridge, type ErpBridge, type ErpTransport } from '../../../src/producers/erp/bridge.js';
import { waitUntil } from '../../support/kafka.js';
import { WorkerProcess } from '../../support/worker-process.js';
import { createProducerHarness, type ProducerHarness } from './harness.js';

let h: ProducerHarness;
let streamKey: string;
let channelPrefix: string;
const bridges: ErpBridge[] = [];

beforeAll(async () => {
  h = await createProducerHarness('erp', { shop: { secrets: [], stores: [1] } });
  streamKey = `${h.prefix}:erp:events`;
  channelPrefix = `${h.prefix}:`;
});

// A test that fails midway must not leave its bridge reading the stream of the next test.
afterEach(async () => {
  for (const bridge of bridges.splice(0)) await bridge.stop().catch(() => undefined);
});

afterAll(async () => {
  await h?.cleanup();
});

async function start(transport: ErpTransport, sink: ChangeSink = h.sink, ackTimeoutMs = 15_000): Promise<ErpBridge> {
  const bridge = await startErpBridge({
    transport,
    sink,
    openRedis: () => openRedis(h.config, { blocking: true }),
    event: { tenant: 'shop', defaultCurrency: 'EUR', storesOf: (t) => h.config.tenants[t]?.stores },
    logger: pino({ level: 'silent' }),
    ackTimeoutMs,
    stream: { key: streamKey, group: 'bridge', consumer: 'test-consumer', blockMs: 300 },
    channelPrefix,
  });
  bridges.push(bridge);
  return bridge;
}

const hasKey = async (type: 'product_price' | 'product_stock' | 'product', id: string) => (await h.read(type)).some((r) => parseKey(r.key).entityId === id);

describe('the ERP bridge on real Redis and Kafka', () => {
  it('publishes events from pub/sub and from the stream to the topics of their type', async () => {
    const bridge = await start('both');
    // The subscription is live once startErpBridge resolved.
    await h.redis.publish(`${channelPrefix}pricing.price_changed`, JSON.stringify({ sku: 'P-1', price: 19.9, occurred_at: '2026-01-02T10:30:00Z' }));
    await h.redis.xadd(streamKey, '*', 'event', 'inventory.stock_updated', 'payload', JSON.stringify({ sku: 'S-1', store_id: 1, qty: 4 }));
    await h.redis.xadd(streamKey, '*', 'event', 'product.updated', 'payload', JSON.stringify({ id: 'P-2', data: { sku: 'P-2', name: 'Desk lamp' } }));

    await waitUntil('the price record', () => hasKey('product_price', 'P-1'));
    await waitUntil('the stock record', () => hasKey('product_stock', 'S-1'));
    await waitUntil('the product record', () => hasKey('product', 'P-2'));
    const price = (await h.read('product_price')).find((r) => parseKey(r.key).entityId === 'P-1')!;
    expect(parseKey(price.key)).toEqual({ tenant: 'shop', entityType: 'product', entityId: 'P-1', storeId: 1 });
    expect(price.decoded).toMatchObject({ price: 19.9, currency: 'EUR', source_version: BigInt(Date.UTC(2026, 0, 2, 10, 30)) * 1_000_000n });
    const stock = (await h.read('product_stock')).find((r) => parseKey(r.key).entityId === 'S-1')!;
    expect(stock.decoded).toMatchObject({ qty: 4, stock_status: 'in_stock', is_in_stock: true });
    await bridge.stop();
  });

  it('delivers a stream event written while the bridge was stopped once it starts', async () => {
    await h.redis.xadd(streamKey, '*', 'event', 'pricing.price_updated', 'payload', JSON.stringify({ sku: 'LATE-1', price: 5, currency: 'USD' }));
    expect(await hasKey('product_price', 'LATE-1')).toBe(false);
    const bridge = await start('stream');
    await waitUntil('the event written while stopped', () => hasKey('product_price', 'LATE-1'));
    await waitUntil('the entry to be acknowledged', async () => ((await h.redis.xpending(streamKey, 'bridge')) as [number])[0] === 0);
    await bridge.stop();
  });

  it('copies an entry that can never be published to the rejected stream and acknowledges it', async () => {
    await h.redis.xadd(streamKey, '*', 'event', 'product.category_changed', 'payload', JSON.stringify({ sku: 'HALF', categories: ['X'] }));
    const bridge = await start('stream');
    await waitUntil('the rejected copy', async () => (await h.redis.xlen(`${streamKey}:rejected`)) === 1);
    const [[, fields]] = (await h.redis.xrange(`${streamKey}:rejected`, '-', '+')) as [[string, string[]]];
    expect(fields).toEqual(expect.arrayContaining(['reason', 'data.name is required']));
    await waitUntil('the entry to be acknowledged', async () => ((await h.redis.xpending(streamKey, 'bridge')) as [number])[0] === 0);
    await bridge.stop();
  });

  it('rejects an entry Kafka can never take and publishes the entries read with it', async () => {
    // Every field within the edge's length limit, the record larger than the topics'
    // max.message.bytes (4 MiB): no retry can ever publish it.
    const huge = `<p>${'A very long care guide. '.repeat(62_000)}</p>`;
    await h.redis.xadd(streamKey, '*', 'event', 'product.updated', 'payload', JSON.stringify({ id: 'BEFORE-HUGE', data: { sku: 'BEFORE-HUGE', name: 'Small' } }));
    await h.redis.xadd(streamKey, '*', 'event', 'product.updated', 'payload', JSON.stringify({ id: 'HUGE', data: { sku: 'HUGE', name: 'Huge', description: huge, short_description: huge, meta_description: huge } }));
    await h.redis.xadd(streamKey, '*', 'event', 'product.updated', 'payload', JSON.stringify({ id: 'AFTER-HUGE', data: { sku: 'AFTER-HUGE', name: 'Small too' } }));
    const rejectedBefore = await h.redis.xlen(`${streamKey}:rejected`);
    const bridge = await start('stream');
    await waitUntil('the two small entries', async () => (await hasKey('product', 'BEFORE-HUGE')) && (await hasKey('product', 'AFTER-HUGE')));
    await waitUntil('the rejected copy', async () => (await h.redis.xlen(`${streamKey}:rejected`)) === rejectedBefore + 1);
    const [[, fields]] = (await h.redis.xrevrange(`${streamKey}:rejected`, '+', '-', 'COUNT', 1)) as [[string, string[]]];
    expect(fields[fields.indexOf('reason') + 1]).toMatch(/too large|larger than|max\.message\.bytes/i);
    expect(await hasKey('product', 'HUGE')).toBe(false);
    await waitUntil('every entry to be acknowledged', async () => ((await h.redis.xpending(streamKey, 'bridge')) as [number])[0] === 0);
    await bridge.stop();
  });

  it('keeps an entry pending while Kafka does not acknowledge and publishes it after a restart', async () => {
    const dead = await openChangeSink({ ...h.config, kafka: { ...h.config.kafka, brokers: ['127.0.0.1:1'], ackTimeoutMs: 1000 } });
    const failing = await start('stream', dead, 1000);
    await h.redis.xadd(streamKey, '*', 'event', 'inventory.stock_changed', 'payload', JSON.stringify({ sku: 'PENDING-1', qty: 0 }));
    await waitUntil('the entry to be delivered and left pending', async () => ((await h.redis.xpending(streamKey, 'bridge')) as [number])[0] === 1);
    await failing.stop();
    await dead.close().catch(() => undefined);
    expect(await hasKey('product_stock', 'PENDING-1')).toBe(false);

    const bridge = await start('stream');
    await waitUntil('the pending entry to be published', () => hasKey('product_stock', 'PENDING-1'));
    await waitUntil('the entry to be acknowledged', async () => ((await h.redis.xpending(streamKey, 'bridge')) as [number])[0] === 0);
    await bridge.stop();
  });
});

describe('ragsync run erp-bridge as a process', () => {
  it('serves /healthz and /readyz (ready once the bridge runs), publishes a stream event, and stops on SIGTERM', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      KAFKA_BROKERS: h.config.kafka.brokers.join(','),
      SCHEMA_REGISTRY_URL: h.config.registry.url,
      REDIS_URL: h.config.redis.url,
      RAGSYNC_TOPIC_PREFIX: h.config.topics.prefix,
      RAGSYNC_REDIS_PREFIX: h.config.redis.keyPrefix,
      RAGSYNC_TENANTS: JSON.stringify({ shop: { secrets: [], stores: [1] } }),
      LOG_LEVEL: 'info',
    };
    const worker = WorkerProcess.start('erp bridge', ['erp-bridge', '--stream', `${streamKey}:process`, '--group', 'process-bridge', '--tenant', 'shop'], env);
    try {
      await worker.waitForLog('the bridge to run', 'ERP bridge running');
      const url = worker.logged('health and metrics')[0]!.url as string;
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', stages: [{ stage: 'erp-bridge', state: 'running' }] });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      await h.redis.xadd(`${streamKey}:process`, '*', 'event', 'product.updated', 'payload', JSON.stringify({ id: 'P-PROC', data: { sku: 'P-PROC', name: 'Camp lantern' } }));
      await waitUntil('the product record', () => hasKey('product', 'P-PROC'), 60_000);
    } finally {
      await worker.stop();
    }
    expect(worker.logged('ERP bridge stopping')).toHaveLength(1);
  }, 120_000);
});
