import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../../src/core/errors.js';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { openOrderPublisher, orderKey, pullWoocommerceOrders, runWoocommerceOrderPull, type OrderPublisher } from '../../../src/producers/woocommerce/orders.js';
import { readAll, testKafka } from '../../support/kafka.js';
import { startWooServer, type WooTestServer } from '../../support/woocommerce-server.js';
import { createProducerHarness, type ProducerHarness } from '../producers/harness.js';
import { capturingLogger, TENANT, targetOf } from './woocommerce-fixtures.js';

let h: ProducerHarness;
let server: WooTestServer;
let serde: RegistrySerde;
const publishers: OrderPublisher[] = [];
const captured = capturingLogger();
const T0 = Date.UTC(2026, 1, 10, 9, 30, 0);

beforeAll(async () => {
  h = await createProducerHarness('woo-orders', { [TENANT]: { secrets: [], stores: [0] } });
  server = await startWooServer();
  serde = new RegistrySerde(new RegistryClient(h.config.registry), { prefix: h.prefix });
});

afterAll(async () => {
  for (const publisher of publishers) await publisher.close();
  await server?.close();
  await new RegistryClient(h.config.registry).deleteSubject(RegistrySerde.subject(`${h.prefix}orders`)).catch(() => undefined);
  await h?.cleanup();
});

function publisher(): OrderPublisher {
  const opened = openOrderPublisher(h.config);
  publishers.push(opened);
  return opened;
}

function pull(using: OrderPublisher) {
  return pullWoocommerceOrders({ target: targetOf(server), tenant: TENANT, publisher: using, redis: h.redis, keyPrefix: h.prefix, logger: captured.logger });
}

/** Every record of the orders topic, read by a consumer of its own, decoded through the registry. */
async function published(): Promise<{ key: string; version: bigint; value: Record<string, unknown> }[]> {
  const topic = `${h.prefix}orders`;
  const records = await readAll(testKafka(), topic);
  return Promise.all(records.map(async (r) => {
    const value = (await serde.decode(topic, r.value!)) as Record<string, unknown>;
    return { key: r.key, version: value.source_version as bigint, value };
  }));
}

const PERSONAL = /Jana|Novak|mail\.example|Lindenweg|Leipzig|04109|\+49|Nachbarn/;

describe('the WooCommerce order pull', () => {
  it('publishes each processing order once per modification, across pulls and a restart', async () => {
    const first = server.addOrder({ modifiedMs: T0, customer_id: 314 });
    const sameSecond = server.addOrder({ modifiedMs: T0 + 400 });
    server.addOrder({ modifiedMs: T0, status: 'completed' });
    const later = server.addOrder({ modifiedMs: T0 + 5_000 });

    const one = publisher();
    expect(await pull(one)).toMatchObject({ published: 3, watermark: '2026-02-10T09:30:05' });
    expect(await pull(one)).toMatchObject({ published: 0, skipped: 1 });

    // A new order modified in the very second of the watermark, and one after it.
    const inWatermarkSecond = server.addOrder({ modifiedMs: T0 + 5_300 });
    const newer = server.addOrder({ modifiedMs: T0 + 9_000 });
    expect(await pull(one)).toMatchObject({ published: 2 });

    // A restart: a new publisher and a new pull resume from the watermark in Redis.
    server.modifyOrder(first.id, { total: '40.00' }, T0 + 60_000);
    const restarted = publisher();
    expect(await pull(restarted)).toMatchObject({ published: 1, watermark: '2026-02-10T09:31:00' });
    expect(await pull(restarted)).toMatchObject({ published: 0 });

    const records = await published();
    const pairs = records.map((r) => `${r.key}@${r.version}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    const ids = [first, sameSecond, later, inWatermarkSecond, newer, first].map((o) => String(o.id));
    expect(records.map((r) => r.value.order_id).sort()).toEqual(ids.sort());
    expect(records.map((r) => r.key)).toContain(orderKey(TENANT, String(first.id), 0));

    const modified = records.find((r) => r.value.order_id === String(first.id) && r.value.grand_total === 40)!;
    expect(modified.value).toMatchObject({ tenant: TENANT, store_id: 0, status: 'processing', currency: 'EUR', source_version: BigInt(T0 + 60_000) * 1_000_000n, occurred_at: T0 + 60_000, created_at: T0 });
    expect(modified.value.items).toEqual([{ sku: 'LAMP-OAK', name: 'Oak desk lamp', qty: 2, price: 18.8, row_total: 37.6 }]);
    expect(modified.value.customer_ref).toMatch(/^[0-9a-f]{32}$/);
    // A pseudonym, not the shop's customer id, and the same one for every save of the order.
    // (The hash depends on the test server's port, so it is compared, not spelled out.)
    expect(modified.value.customer_ref).not.toBe('314');
    const original = records.find((r) => r.value.order_id === String(first.id) && r.value !== modified.value)!;
    expect(original.value.customer_ref).toBe(modified.value.customer_ref);
    // Personal data stays in the shop: neither the records nor the logs hold any of it.
    expect(JSON.stringify(records, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toMatch(PERSONAL);
    expect(captured.lines.join('\n')).not.toMatch(PERSONAL);
    expect(captured.lines.some((l) => l.includes('WooCommerce order pull done'))).toBe(true);
  });

  it('follows the pages, also past more than 100 orders modified in one second', async () => {
    const before = (await published()).length;
    const base = T0 + 3_600_000;
    for (let i = 0; i < 130; i++) server.addOrder({ modifiedMs: base });
    for (let i = 0; i < 60; i++) server.addOrder({ modifiedMs: base + 1_000 + i * 1_000 });
    const report = await pull(publisher());
    expect(report.published).toBe(190);
    expect(report.requests).toBeGreaterThan(2);
    const records = await published();
    expect(records.length - before).toBe(190);
    const pairs = records.map((r) => `${r.key}@${r.version}`);
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  it('keeps the watermark when Kafka did not acknowledge, and publishes the orders on the next pull', async () => {
    const late = server.addOrder({ modifiedMs: T0 + 7_200_000 });
    const failing: OrderPublisher = { publish: async () => Promise.reject(new RetryableError('Kafka did not acknowledge', { code: 'kafka_ack_timeout' })), close: async () => undefined };
    await expect(pull(failing)).rejects.toThrow('Kafka did not acknowledge');
    const published1 = await runWoocommerceOrderPull({ target: targetOf(server), tenant: TENANT, publisher: publisher(), redis: h.redis, keyPrefix: h.prefix, once: true });
    expect(published1).toBe(1);
    expect((await published()).filter((r) => r.value.order_id === String(late.id))).toHaveLength(1);
  });
});
