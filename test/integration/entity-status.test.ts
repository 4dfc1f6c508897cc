import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeMessage } from '../../src/core/changes.js';
import { formatKey } from '../../src/core/keys.js';
import { CORE_STAGE_NAMES, type StageName } from '../../src/core/stages.js';
import { traceEntity, type EntityTrace, type TopicView, type TraceOptions } from '../../src/cli/entity-trace.js';
import { formatTrace } from '../../src/cli/entity-trace-format.js';
import { withAdmin } from '../../src/kafka/admin.js';
import { partitionOf } from '../../src/kafka/dlq-replay.js';
import { RegistryClient } from '../../src/kafka/registry.js';
import { RegistrySerde } from '../../src/kafka/serde.js';
import { productChangeSchema, productPriceChangeSchema, productStockChangeSchema } from '../../src/schemas/zod/product.js';
import type { VectorStore } from '../../src/stores/index.js';
import { runCli } from '../support/cli.js';
import { readAll, waitUntil, type ReadRecord } from '../support/kafka.js';
import { PipelineHarness } from '../support/pipeline-harness.js';
import { SHOP_TAX_ID, shopTenants } from '../support/shop-tenants.js';
import { startShopwareServer, type ShopwareTestServer } from '../support/shopware-server.js';
import { startWooServer, type WooTestServer } from '../support/woocommerce-server.js';

/**
 * `ragsync status <key>` on the real stack: a product run through the core stages and the Shopware
 * push stages shows one version at every hop and "in sync"; a newer version published while the
 * stages are stopped shows on changes.product with the groups waiting; a product Shopware refuses
 * shows its dead letter. Offsets, versions and committed offsets are checked against a separate
 * read of Kafka, and the command runs once as a process of its own.
 */

const TENANT = 'lamps';
const key = (id: string) => formatKey({ tenant: TENANT, entityType: 'product', entityId: id, storeId: 0 });
const STAGES: StageName[] = [...CORE_STAGE_NAMES, 'push-shopware', 'push-shopware-price', 'push-shopware-stock', 'push-woocommerce', 'push-woocommerce-price', 'push-woocommerce-stock'];

const base = BigInt(Date.now()) * 1_000_000n;
const at = Date.now();

function product(id: string, version: bigint, name: string): ChangeMessage {
  const value = productChangeSchema.parse({
    tenant: TENANT,
    store_id: 0,
    entity_id: id,
    source_version: version,
    occurred_at: at,
    sku: id,
    name,
    description: `<p>${name}: a brass desk lamp with a linen shade and a dimmer.</p>`,
    price: 49.9,
    currency: 'EUR',
    qty: 12,
    stock_status: 'in_stock',
  });
  return { type: 'product', key: key(id), value, sourceVersion: version, occurredAt: at };
}

function price(id: string, version: bigint, amount: number): ChangeMessage {
  const value = productPriceChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: id, source_version: version, occurred_at: at, sku: id, price: amount, currency: 'EUR' });
  return { type: 'product_price', key: key(id), value, sourceVersion: version, occurredAt: at };
}

function stock(id: string, version: bigint, qty: number): ChangeMessage {
  const value = productStockChangeSchema.parse({ tenant: TENANT, store_id: 0, entity_id: id, source_version: version, occurred_at: at, sku: id, qty, stock_status: 'in_stock', is_in_stock: true });
  return { type: 'product_stock', key: key(id), value, sourceVersion: version, occurredAt: at };
}

describe('ragsync status <key>', () => {
  let shop: ShopwareTestServer;
  let woo: WooTestServer;
  let harness: PipelineHarness;
  let store: VectorStore;
  let redis: Redis;
  let env: Record<string, string>;

  beforeAll(async () => {
    shop = await startShopwareServer({ taxIds: [SHOP_TAX_ID] });
    woo = await startWooServer();
    // A second tier of ten minutes: a record that fails twice waits there for the whole test.
    env = { RAGSYNC_TENANTS: shopTenants(TENANT, shop, woo), RAGSYNC_PARTITIONS: '3', RAGSYNC_RETRY_DELAYS: '2s,10m' };
    harness = await PipelineHarness.create('lancedb', env);
    redis = new Redis(harness.config.redis.url);
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    await harness?.close();
    await shop?.close();
    await woo?.close();
  });

  const trace = async (id: string, options: TraceOptions = {}): Promise<EntityTrace> => {
    const serde = new RegistrySerde(new RegistryClient(harness.config.registry), { prefix: harness.config.topics.prefix });
    return traceEntity(harness.kafka, harness.config, key(id), { store, storeDescription: 'lancedb', redis, decode: (topic, bytes) => serde.decode(topic, bytes) }, { timeoutMs: 60_000, ...options });
  };
  const topic = (t: EntityTrace, name: string): TopicView => {
    const view = t.topics.find((v) => v.topic === name);
    expect(view, name).toBeDefined();
    return view!;
  };
  /** The key's last record on a topic, read apart from the trace. */
  const lastOf = async (name: string, id: string): Promise<ReadRecord | undefined> => {
    const records = (await readAll(harness.kafka, `${harness.config.topics.prefix}${name}`)).filter((r) => r.key === key(id));
    return records.at(-1);
  };
  /** A group's committed offset on a partition, read apart from the trace. */
  const committed = async (group: string, name: string, partition: number): Promise<string | undefined> => {
    const offsets = await withAdmin(harness.kafka, (admin) => admin.fetchOffsets({ groupId: `${harness.config.topics.prefix}${group}`, topics: [`${harness.config.topics.prefix}${name}`] }));
    return offsets[0]?.partitions.find((p) => p.partition === partition)?.offset;
  };

  const v1 = base + 1n;
  const vPrice = base + 2n;
  const vStock = base + 3n;
  const vDead = base + 4n;
  const v2 = base + 10n;

  it('shows one version at every hop and "in sync" once the pipeline ran', async () => {
    shop.rejectProductNumber('LAMP-DEAD', 'name', 'This value is too long for the storefront theme.');
    await harness.publish([product('LAMP-1', v1, 'Brass desk lamp'), price('LAMP-1', vPrice, 44.5), stock('LAMP-1', vStock, 7), product('LAMP-DEAD', vDead, 'Refused lamp')]);
    await harness.start({}, STAGES);
    await harness.settle(120_000);
    store = await harness.openStore();

    const t = await trace('LAMP-1');
    const lines = formatTrace(t);
    expect(t.verdict, lines.join('\n')).toBe(`in sync: version ${v1} everywhere (price ${vPrice}, stock ${vStock})`);
    for (const [name, version] of [
      ['changes.product', v1],
      ['changes.product_price', vPrice],
      ['changes.product_stock', vStock],
      ['documents', v1],
      ['chunks', v1],
      ['vectors', v1],
    ] as const) {
      const view = topic(t, name);
      const last = await lastOf(name, 'LAMP-1');
      expect(last, name).toBeDefined();
      expect(view.newest?.version, name).toBe(String(version));
      // The same record a separate read finds last, with the version its headers carry.
      expect(view.partition, name).toBe(last!.partition);
      expect(view.newest?.offset, name).toBe(last!.offset);
      expect(last!.headers['ragsync-source-version'], name).toBe(String(version));
      expect(view.groups.length, name).toBeGreaterThan(0);
      for (const g of view.groups) {
        expect(g.state, `${name} ${g.stage}`).toBe('processed');
        expect(g.committed, `${name} ${g.stage}`).toBe(await committed(g.group.slice(harness.config.topics.prefix.length), name, last!.partition));
      }
    }
    expect(topic(t, 'changes.product').groups.map((g) => g.stage).sort()).toEqual(['map', 'push-shopware', 'push-woocommerce']);
    expect(topic(t, 'vectors').newest?.chunks).toBeGreaterThan(0);
    // The store and the shop, compared with their own views.
    const doc = await store.getDocument(key('LAMP-1'));
    expect(t.store?.head?.version).toBe(String(v1));
    expect(t.store?.points).toBe(doc.points.length);
    expect(t.store?.points).toBe(topic(t, 'vectors').newest?.chunks);
    expect(t.store?.head?.aspects).toEqual({ product_price: String(vPrice), product_stock: String(vStock) });
    const inShop = shop.productByNumber('LAMP-1')!;
    expect(inShop).toBeDefined();
    const shopware = t.shops.find((s) => s.kind === 'shopware')!;
    expect(shopware.found).toBe(true);
    expect(shopware.id).toBe(inShop.id);
    expect(shopware.versions).toEqual({ product: String(v1), price: String(vPrice), stock: String(vStock) });
    const inWoo = woo.bySku('LAMP-1')!;
    const woocommerce = t.shops.find((s) => s.kind === 'woocommerce')!;
    expect(woocommerce.found).toBe(true);
    expect(woocommerce.id).toBe(String(inWoo.id));
    expect(woocommerce.versions).toEqual({ product: String(woo.meta(inWoo, 'ragsync_version')), price: String(woo.meta(inWoo, 'ragsync_price_version')), stock: String(woo.meta(inWoo, 'ragsync_stock_version')) });
    expect(woocommerce.versions).toEqual({ product: String(v1), price: String(vPrice), stock: String(vStock) });
    expect(t.dlq.records).toEqual([]);
    expect(lines.at(-1)).toBe(`verdict: ${t.verdict}`);

    // Long reads report their progress (here every read, however short) up to the captured end.
    const seen: Array<[string, number, number]> = [];
    await trace('LAMP-1', { progressAbove: 0, onProgress: (what, read, total) => seen.push([what, read, total]) });
    const change = topic(t, 'changes.product');
    const total = Number(BigInt(change.high!) - BigInt(change.low!));
    expect(seen).toContainEqual([`${change.name} partition ${change.partition}`, total, total]);
    // Out of time: nothing claimed.
    const hurried = await trace('LAMP-1', { timeoutMs: 1 });
    expect(hurried.verdict).toBe('unknown: no record of the key found on changes.product within the time limit');
    expect(topic(hurried, 'changes.product').problem).toMatch(/before the time limit/);
  }, 240_000);

  it('shows a dead-lettered record of a key with its error code and message', async () => {
    const t = await trace('LAMP-DEAD');
    const dead = (await readAll(harness.kafka, `${harness.config.topics.prefix}push-shopware.dlq`)).filter((r) => r.key === key('LAMP-DEAD'));
    expect(dead).toHaveLength(1);
    expect(t.dlq.records).toHaveLength(1);
    const record = t.dlq.records[0]!;
    expect(record.ref).toBe(`push-shopware:${dead[0]!.partition}:${dead[0]!.offset}`);
    expect(record.errorCode).toBe(dead[0]!.headers['ragsync-error-code']);
    expect(record.errorMessage).toContain('This value is too long for the storefront theme.');
    expect(record.version).toBe(String(vDead));
    expect(record.replayed).toBeNull();
    expect(t.verdict).toBe(`dead-lettered in push-shopware.dlq: ${record.errorCode}`);
    // The store took it all the same.
    expect(t.store?.head?.version).toBe(String(vDead));
    expect(t.shops.find((x) => x.kind === 'shopware')?.found).toBe(false);
    expect(t.shops.find((x) => x.kind === 'woocommerce')?.versions.product).toBe(String(vDead));
  }, 120_000);

  it('shows a newer version on changes.product and the groups waiting while the stages are stopped', async () => {
    await harness.stop();
    // Another product on LAMP-1's partition first, so one record waits ahead of the new version.
    const partition = partitionOf(Buffer.from(key('LAMP-1')), 3);
    const other = Array.from({ length: 50 }, (_, i) => `LAMP-N${i}`).find((id) => partitionOf(Buffer.from(key(id)), 3) === partition)!;
    await harness.publish([product(other, base + 9n, 'Floor lamp')]);
    await harness.publish([product('LAMP-1', v2, 'Brass desk lamp, mark 2')]);
    const t = await trace('LAMP-1');
    const change = topic(t, 'changes.product');
    const last = (await lastOf('changes.product', 'LAMP-1'))!;
    expect(change.newest?.version).toBe(String(v2));
    expect(change.newest?.offset).toBe(last.offset);
    expect(change.matches).toBe(2);
    for (const g of change.groups) {
      const done = await committed(g.group.slice(harness.config.topics.prefix.length), 'changes.product', last.partition);
      expect(g.committed).toBe(done);
      expect(g.state, g.stage).toBe('waiting');
      expect(g.ahead, g.stage).toBe(Number(BigInt(last.offset) - BigInt(done!)));
      expect(g.ahead, g.stage).toBe(1);
      const end = await withAdmin(harness.kafka, (admin) => admin.fetchTopicOffsets(`${harness.config.topics.prefix}changes.product`));
      expect(g.lag, g.stage).toBe(Number(BigInt(end.find((e) => e.partition === last.partition)!.high) - BigInt(done!)));
    }
    // Further on, the older version is still what each hop holds.
    expect(topic(t, 'documents').newest?.version).toBe(String(v1));
    expect(t.store?.head?.version).toBe(String(v1));
    expect(t.shops.map((x) => [x.kind, x.versions.product])).toEqual([
      ['shopware', String(v1)],
      ['woocommerce', String(v1)],
    ]);
    const map = change.groups.find((g) => g.stage === 'map')!;
    expect(t.verdict).toBe(`behind: map has not processed offset ${last.offset} of changes.product (lag ${map.lag})`);
    expect(t.findings).toContain(`behind: push-shopware has not processed offset ${last.offset} of changes.product (lag ${change.groups.find((g) => g.stage === 'push-shopware')!.lag})`);
  }, 120_000);

  it('runs as a command: the trace as JSON, and a malformed key refused in one line with exit code 2', async () => {
    const cliEnv = {
      ...env,
      RAGSYNC_TOPIC_PREFIX: harness.config.topics.prefix,
      RAGSYNC_REDIS_PREFIX: harness.config.redis.keyPrefix,
      LANCEDB_PATH: harness.config.store.lancedbPath,
      RAGSYNC_COLLECTION: harness.config.store.collection,
      QDRANT_URL: '',
      EMBEDDER: 'hashing',
      LOG_LEVEL: 'silent',
    };
    const json = await runCli(['status', key('LAMP-1'), '--json'], cliEnv);
    expect(json.code, json.err).toBe(0);
    const t = JSON.parse(json.out) as EntityTrace;
    const last = (await lastOf('changes.product', 'LAMP-1'))!;
    expect(topic(t, 'changes.product').newest).toMatchObject({ version: String(v2), offset: last.offset, tombstone: false });
    expect(t.store?.head?.version).toBe(String(v1));
    expect(t.verdict).toMatch(/^behind: map has not processed offset /);
    expect(json.out).not.toContain(shop.clientSecret);

    const text = await runCli(['status', 'lamps/product/LAMP-1/0'], cliEnv);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain(`changes.product`);
    expect(text.out.trim().split('\n').at(-1)).toBe(`verdict: ${t.verdict}`);

    const bad = await runCli(['status', 'lamps/product/LAMP-1'], cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.out).toBe('');
    expect(bad.err.trim().split('\n')).toEqual(['error: invalid key "lamps/product/LAMP-1": expected tenant/entity_type/entity_id/store_id']);
  }, 120_000);

  it('shows a record waiting in a retry tier while its shop is offline', async () => {
    await harness.start({}, STAGES);
    await harness.settle(120_000);
    expect((await trace('LAMP-1')).verdict).toMatch(/^in sync: version /);
    shop.setOffline(true);
    const v3 = base + 20n;
    await harness.publish([product('LAMP-1', v3, 'Brass desk lamp, mark 3')]);
    // Failed once (to tier 2s), due, failed again: now in the ten-minute tier.
    let waiting: ReadRecord | undefined;
    await waitUntil('LAMP-1 in push-shopware.retry.10m', async () => (waiting = await lastOf('push-shopware.retry.10m', 'LAMP-1')) !== undefined, 60_000);
    await waitUntil('the store to hold version 3', async () => (await store.getDocument(key('LAMP-1'))).head?.version === v3, 60_000);
    const t = await trace('LAMP-1');
    const tier = topic(t, 'push-shopware.retry.10m');
    expect(tier.newest).toMatchObject({ offset: waiting!.offset, version: String(v3) });
    expect(tier.newest?.retry).toMatchObject({ tier: 1, attempt: 2, dueAt: waiting!.headers['ragsync-due-at'], errorCode: waiting!.headers['ragsync-error-code'] });
    expect(tier.groups).toMatchObject([{ stage: 'push-shopware.retry', state: 'waiting' }]);
    expect(topic(t, 'push-shopware.retry.2s').groups).toMatchObject([{ state: 'processed' }]);
    expect(topic(t, 'push-shopware.retry.due').groups).toMatchObject([{ stage: 'push-shopware', state: 'processed' }]);
    expect(t.verdict).toBe(`waiting for retry: push-shopware holds version ${v3} in push-shopware.retry.10m (${waiting!.headers['ragsync-error-code']}, due ${waiting!.headers['ragsync-due-at']})`);
    expect(t.store?.head?.version).toBe(String(v3));
    expect(t.shops.find((x) => x.kind === 'shopware')?.problem).toBeDefined();
    expect(t.findings.filter((f) => f.startsWith(`shopware ${new URL(shop.url).host} was not read: `))).toHaveLength(1);
    expect(t.shops.find((x) => x.kind === 'woocommerce')?.versions.product).toBe(String(v3));
    shop.setOffline(false);
  }, 240_000);
});
