import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.js';
import type { WoocommerceTarget } from '../../config/targets.js';
import { WooClient } from '../../connectors/woocommerce/client.js';
import type { WooOrder } from '../../connectors/woocommerce/types.js';
import { PermanentError } from '../../core/errors.js';
import { assertTenant } from '../../core/keys.js';
import type { OutputRecord } from '../../core/stage.js';
import { BatchingProducer } from '../../kafka/batching-producer.js';
import { createIdempotentProducer, createKafka } from '../../kafka/client.js';
import { produceRecords } from '../../kafka/producer.js';
import { RegistryClient } from '../../kafka/registry.js';
import { RegistrySerde } from '../../kafka/serde.js';
import type { Order } from '../../schemas/zod/order.js';

/**
 * The WooCommerce order pull (docs/connectors/woocommerce.md): processing orders modified since a
 * watermark, oldest first, published to the `orders` topic (bounded retention) so that each
 * (order, modification) is published once. The watermark (the last `date_modified_gmt` and the ids
 * seen at that very second) lives in Redis and moves only after Kafka acknowledged the page.
 * Orders carry personal data: only ids and counts are logged, and the published value holds no
 * name, address or e-mail address (the customer is an opaque hash).
 */

export const ORDERS_TOPIC = 'orders';
const PER_PAGE = 100;

type LogFn = (object: object, message: string) => void;

/** Publishes `orders` records and resolves once Kafka acknowledged all of them. */
export interface OrderPublisher {
  publish(records: OutputRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface PullWoocommerceOrdersOptions {
  target: WoocommerceTarget;
  tenant: string;
  publisher: OrderPublisher;
  redis: Redis;
  /** Prefix of the watermark's Redis key, e.g. `ragsync:`. */
  keyPrefix: string;
  logger?: { info: LogFn; debug: LogFn };
  /** Store id of the records. @defaultValue target.sourceStoreId */
  storeId?: number;
  /** Where a pull without a watermark starts (GMT). @defaultValue 1970-01-01T00:00:00 */
  since?: Date;
  /** Order statuses pulled. @defaultValue 'processing' */
  status?: string;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

export interface OrderPullReport {
  published: number;
  /** Orders the shop returned again that were published before (same id, same second). */
  skipped: number;
  requests: number;
  /** The watermark after the pull. */
  watermark: string;
}

interface Watermark {
  /** `YYYY-MM-DDTHH:MM:SS`, GMT. */
  modified: string;
  /** Order ids published with exactly that `date_modified_gmt`. */
  ids: number[];
}

const gmtSeconds = (ms: number) => new Date(ms).toISOString().slice(0, 19);
const parseGmt = (text: string) => Date.parse(text.endsWith('Z') ? text : `${text}Z`);

/** The record key of an order: `tenant/order/<order id>/<store id>`, like the entity keys (src/core/keys.ts has no `order` entity type). */
export function orderKey(tenant: string, orderId: string, storeId: number): string {
  return [encodeURIComponent(assertTenant(tenant)), 'order', encodeURIComponent(orderId), String(storeId)].join('/');
}

/** An opaque, stable customer reference: the customer id hashed with the shop's host; guests have none. */
export function customerRef(host: string, customerId: number | undefined): string | null {
  if (!customerId) return null;
  return createHash('sha256').update(`woocommerce:${host}:customer:${customerId}`).digest('hex').slice(0, 32);
}

const amount = (text: string | number | undefined | null): number => {
  const value = Number(text ?? 0);
  return Number.isFinite(value) ? value : 0;
};

/** The `orders` value of a WooCommerce order: amounts, items, status, never personal data. */
export function toOrderValue(order: WooOrder, tenant: string, storeId: number, host: string): Order {
  const modified = parseGmt(order.date_modified_gmt);
  const created = parseGmt(order.date_created_gmt);
  if (Number.isNaN(modified) || Number.isNaN(created)) {
    throw new PermanentError(`woocommerce ${host}: order ${order.id} has no readable date_modified_gmt/date_created_gmt`, { code: 'woocommerce_order_invalid' });
  }
  const lines = order.line_items ?? [];
  return {
    tenant,
    store_id: storeId,
    order_id: String(order.id),
    increment_id: order.number ?? null,
    source_version: BigInt(modified) * 1_000_000n,
    occurred_at: modified,
    status: order.status,
    currency: order.currency,
    grand_total: amount(order.total),
    subtotal: lines.reduce((sum, line) => sum + amount(line.subtotal), 0),
    tax_total: amount(order.total_tax),
    shipping_total: amount(order.shipping_total),
    discount_total: amount(order.discount_total),
    items: lines.map((line) => ({ sku: line.sku ?? '', name: line.name ?? null, qty: line.quantity, price: amount(line.price), row_total: amount(line.total) })),
    customer_ref: customerRef(host, order.customer_id),
    created_at: created,
  };
}

function watermarkKey(keyPrefix: string, host: string, tenant: string): string {
  return `${keyPrefix}woocommerce:${host}:orders:${tenant}`;
}

async function readWatermark(redis: Redis, key: string, since: Date): Promise<Watermark> {
  const stored = await redis.hgetall(key);
  if (stored.modified) return { modified: stored.modified, ids: JSON.parse(stored.ids ?? '[]') as number[] };
  return { modified: gmtSeconds(since.getTime()), ids: [] };
}

/**
 * One pull: pages of orders modified after the watermark, oldest first. The query starts one second
 * before the watermark (WooCommerce's `modified_after` is exclusive and has whole seconds), and the
 * ids already published at the watermark's second are left out. After each page is acknowledged by
 * Kafka the watermark moves and the next query starts from it (page 1), so orders modified while
 * the pull runs cannot slip between pages; only a page made entirely of orders already published
 * (more than 100 in one second) moves on to the next page number.
 */
export async function pullWoocommerceOrders(options: PullWoocommerceOrdersOptions): Promise<OrderPullReport> {
  const client = new WooClient(options.target, { fetch: options.fetch });
  const storeId = options.storeId ?? options.target.sourceStoreId;
  const key = watermarkKey(options.keyPrefix, client.host, options.tenant);
  let mark = await readWatermark(options.redis, key, options.since ?? new Date(0));
  const report: OrderPullReport = { published: 0, skipped: 0, requests: 0, watermark: mark.modified };
  let page = 1;
  for (;;) {
    const after = gmtSeconds(parseGmt(mark.modified) - 1000);
    const response = await client.get<WooOrder[]>('/orders', {
      status: options.status ?? 'processing',
      modified_after: after,
      dates_are_gmt: 'true',
      orderby: 'modified',
      order: 'asc',
      per_page: PER_PAGE,
      page,
    });
    report.requests += 1;
    const orders = response.body ?? [];
    const totalPages = Number(response.headers.get('x-wp-totalpages') ?? '1');
    const seen = new Set(mark.ids);
    const fresh = orders.filter((o) => {
      const modified = o.date_modified_gmt.slice(0, 19);
      return modified > mark.modified || (modified === mark.modified && !seen.has(o.id));
    });
    report.skipped += orders.length - fresh.length;
    if (fresh.length > 0) {
      const records = fresh.map((order): OutputRecord => {
        const value = toOrderValue(order, options.tenant, storeId, client.host);
        return { topic: ORDERS_TOPIC, key: orderKey(options.tenant, value.order_id, storeId), value, sourceVersion: value.source_version, occurredAt: value.occurred_at };
      });
      await options.publisher.publish(records);
      for (const order of fresh) {
        const modified = order.date_modified_gmt.slice(0, 19);
        if (modified > mark.modified) mark = { modified, ids: [order.id] };
        else if (modified === mark.modified) mark.ids.push(order.id);
      }
      await options.redis.hset(key, { modified: mark.modified, ids: JSON.stringify(mark.ids) });
      report.published += fresh.length;
      options.logger?.debug({ host: client.host, tenant: options.tenant, orders: fresh.length, ids: fresh.map((o) => o.id) }, 'WooCommerce orders published');
    }
    if (orders.length < PER_PAGE || page >= totalPages) break;
    page = fresh.length === 0 ? page + 1 : 1;
  }
  report.watermark = mark.modified;
  options.logger?.info({ host: client.host, tenant: options.tenant, published: report.published, skipped: report.skipped, requests: report.requests, watermark: report.watermark }, 'WooCommerce order pull done');
  return report;
}

export interface OrderPullLoopOptions extends PullWoocommerceOrdersOptions {
  /** Pause between pulls. @defaultValue 300000 (5 minutes) */
  intervalMs?: number;
  /** One pull, then return (`--once`). */
  once?: boolean;
  /** Stops the loop after the pull in flight. */
  signal?: AbortSignal;
  /** Told of a failed pull; the loop goes on with the next interval (the watermark stays). */
  onError?: (error: unknown) => void;
}

/** Pulls once (`--once`) or every `intervalMs` until `signal` aborts. Returns the number of orders published. */
export async function runWoocommerceOrderPull(options: OrderPullLoopOptions): Promise<number> {
  let published = 0;
  const intervalMs = options.intervalMs ?? 300_000;
  for (;;) {
    try {
      published += (await pullWoocommerceOrders(options)).published;
    } catch (error) {
      if (options.once || !options.onError) throw error;
      options.onError(error);
    }
    if (options.once || options.signal?.aborted) return published;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      options.signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    if (options.signal?.aborted) return published;
  }
}

/**
 * The publisher of the `orders` topic: the idempotent producer (acks=all) and Avro values from the
 * Schema Registry, as every producer of ragsync. `publish` resolves once Kafka acknowledged every
 * record (RetryableError `kafka_ack_timeout` otherwise).
 */
export function openOrderPublisher(config: Pick<Config, 'kafka' | 'registry' | 'topics'>): OrderPublisher {
  const kafka = createKafka(config, { clientIdSuffix: 'orders' });
  const sender = new BatchingProducer(() => createIdempotentProducer(kafka), { maxRequestBytes: config.topics.maxMessageBytes });
  const codec = new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix });
  let ready: Promise<void> | undefined;
  return {
    async publish(records) {
      if (records.length === 0) return;
      ready ??= codec.registerAll([ORDERS_TOPIC]).catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      await ready;
      await produceRecords(sender, codec, records, { prefix: config.topics.prefix, timeoutMs: config.kafka.ackTimeoutMs, maxRecordBytes: config.topics.maxMessageBytes });
    },
    close: () => sender.close(config.kafka.ackTimeoutMs),
  };
}
