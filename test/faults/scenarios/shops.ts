import { expect } from 'vitest';
import type { PublishLine } from '../../support/generate-entities.js';
import { waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { SHOP_TAX_ID, shopTenants } from '../../support/shop-tenants.js';
import { startShopwareServer, type ShopwareTestServer } from '../../support/shopware-server.js';
import { startWooServer, type WooTestServer } from '../../support/woocommerce-server.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, readLanceDb, VersionMonitor } from '../support/verify.js';
import { workload } from '../support/workload.js';
import { drain } from './pipeline-lag.js';

/** What a shop holds of a product, by SKU: the fields every product line of the workload sets. */
export interface ShopProduct {
  name: string;
  price: number;
  stock: number;
}

/** The state both shops must end in: every key's last line, a delete meaning no product. */
export function expectedShopState(lines: readonly PublishLine[]): Map<string, ShopProduct> {
  const last = new Map<string, PublishLine>();
  for (const line of lines) last.set(String(line.id), line);
  const state = new Map<string, ShopProduct>();
  for (const [sku, line] of last) {
    if (line.action === 'delete') continue;
    const data = line.data as { name: string; price: number; qty: number };
    state.set(sku, { name: data.name, price: data.price, stock: data.qty });
  }
  return state;
}

export function shopwareState(shop: ShopwareTestServer): Map<string, ShopProduct> {
  return new Map(shop.products().map((p) => [p.productNumber, { name: p.name, price: (p.price as { gross: number }[])[0]!.gross, stock: p.stock }]));
}

export function wooState(woo: WooTestServer): Map<string, ShopProduct> {
  return new Map(woo.allProducts().map((p) => [p.sku, { name: p.name, price: Number(p.regular_price), stock: p.stock_quantity ?? -1 }]));
}

/** SKUs whose state differs from `want` (missing, extra or other fields), for failure messages. */
export function shopDrift(have: ReadonlyMap<string, ShopProduct>, want: ReadonlyMap<string, ShopProduct>): string[] {
  const drift: string[] = [];
  for (const [sku, w] of want) {
    const h = have.get(sku);
    if (!h) drift.push(`${sku} missing`);
    else if (h.name !== w.name || h.price !== w.price || h.stock !== w.stock) drift.push(`${sku} ${JSON.stringify(h)} want ${JSON.stringify(w)}`);
  }
  for (const sku of have.keys()) if (!want.has(sku)) drift.push(`${sku} should not exist`);
  return drift;
}

/** One call of a shop's request log, as the deadline check reads it. */
interface LoggedCall {
  shop: string;
  path: string;
  /** When the request reached the shop (its headers). */
  at: number;
  answeredAt?: number;
  status: number;
  retryAfterSeconds?: number;
}

/**
 * How long after an answer was sent a call may still arrive that the client sent before it read
 * that answer (calls of other partitions already in flight, or of another push group that found
 * no wait set a moment before): a call cannot be taken back once sent. Both processes share a
 * loaded 2-core machine, so their event loops answer late: at a load of 30 one such call arrived
 * 108 ms after the answer. A shop client that ignored Retry-After would call all through the 1 to
 * 30 s that follow, so this margin hides no real early call.
 */
export const IN_FLIGHT_MS = 250;

/**
 * Calls that came before the deadline an earlier answer of the same shop set with its Retry-After
 * (its answer time plus the wait), sent after that answer could have been read: every replica and
 * every push group of a shop shares the wait.
 */
export function callsBeforeDeadline(calls: readonly LoggedCall[]): string[] {
  const early: string[] = [];
  for (const waited of calls) {
    if (waited.retryAfterSeconds === undefined) continue;
    const answeredAt = waited.answeredAt ?? waited.at;
    const deadline = answeredAt + waited.retryAfterSeconds * 1000;
    for (const call of calls) {
      if (call.shop === waited.shop && call !== waited && call.at > answeredAt + IN_FLIGHT_MS && call.at < deadline) {
        early.push(`${call.shop} ${call.path} ${call.at - answeredAt} ms after a ${waited.status} with Retry-After ${waited.retryAfterSeconds}`);
      }
    }
  }
  return early;
}

/** Calls that arrived within IN_FLIGHT_MS of such an answer: in flight when it was sent, reported but not failed. */
export function callsInFlight(calls: readonly LoggedCall[]): number {
  let count = 0;
  for (const waited of calls) {
    if (waited.retryAfterSeconds === undefined) continue;
    const answeredAt = waited.answeredAt ?? waited.at;
    count += calls.filter((call) => call.shop === waited.shop && call !== waited && call.at > waited.at && call.at <= answeredAt + IN_FLIGHT_MS).length;
  }
  return count;
}

export interface ShopFaultOptions {
  events: number;
  keys: number;
  /** How long the shops answer a share of calls with 503s. */
  unavailableMs: number;
  retryAfterSeconds: number;
  latencyMs: number;
}

/**
 * Scenario 8: both shops of a tenant, fed by `ragsync run all` in a process of its own, answer a
 * call with 429 and `Retry-After: 30`, then half their calls with 503s, then hold calls for 35 s
 * (longer than the session timeout; the shop request timeout is set above it so the answer
 * arrives). No call may reach a shop before the deadline a Retry-After set (read from the shops'
 * own request logs; a call arriving within IN_FLIGHT_MS of the answer was already sent), nothing may be dead-lettered, and the index and each shop's own state must end
 * equal to the workload's last event per key, with no version going backwards in the index.
 */
export async function slowAndLimitedShops(name: string, options: ShopFaultOptions, record: (row: FaultRow) => void): Promise<void> {
  const shop = await startShopwareServer({ taxIds: [SHOP_TAX_ID] });
  const woo = await startWooServer();
  const tenants = JSON.parse(shopTenants('faults', shop, woo, { batchSize: 50 })) as Record<string, { targets: Record<string, Record<string, unknown>> }>;
  for (const target of Object.values(tenants.faults!.targets)) target.timeoutMs = options.latencyMs + 15_000;
  const harness = await PipelineHarness.create('lancedb', {
    RAGSYNC_PARTITIONS: '3',
    RAGSYNC_TENANTS: JSON.stringify(tenants),
    // The ladder outlasts every fault below: a record must wait, never be dead-lettered.
    RAGSYNC_RETRY_DELAYS: '2s,5s,10s,20s,40s,80s',
  });
  const { lancedbPath, collection } = harness.config.store;
  const monitor = new VersionMonitor(lancedbPath, collection);
  const env = pipelineEnv(harness.config, { RAGSYNC_TENANTS: JSON.stringify(tenants), RAGSYNC_BREAKER_OPEN_MS: '3000', LOG_LEVEL: 'warn' });
  let worker: WorkerProcess | undefined;
  try {
    const { lines, expected } = workload({ tenant: 'faults', seed: 8, keys: options.keys, events: options.events, storeId: 0 });
    const json = lines.map((l) => JSON.stringify(l));
    const third = Math.ceil(json.length / 3);
    worker = WorkerProcess.start('worker', ['all'], env);
    monitor.start();
    await harness.publishLines(json.slice(0, third));
    const started = worker;
    await waitUntil('first products in both shops', () => shop.products().length > 0 && woo.allProducts().length > 0, 120_000).catch((error: Error) => {
      const seen = `Shopware ${shop.products().length} products in ${shop.requests.length} calls, WooCommerce ${woo.allProducts().length} in ${woo.requests.length}`;
      throw new Error(`${error.message} (${seen}); worker:\n${started.tail()}`);
    });

    // 429 with Retry-After 30 from each shop, answered to the next call.
    shop.setFault({ status: 429, retryAfterSeconds: options.retryAfterSeconds, times: 1 });
    woo.faults.retryAfterSeconds = options.retryAfterSeconds;
    woo.faults.tooManyRequests = 1;
    await harness.publishLines(json.slice(third, 2 * third));
    await waitUntil('a 429 from each shop', () => shop.requests.some((r) => r.status === 429) && woo.requests.some((r) => r.status === 429), 120_000);
    await new Promise((resolve) => setTimeout(resolve, options.retryAfterSeconds * 1000 + 2000));

    // Half the calls answered 503 (Shopware without Retry-After, WooCommerce with 1 s).
    shop.setFault({ status: 503, probability: 0.5 });
    woo.faults.retryAfterSeconds = 1;
    woo.faults.unavailableRate = 0.5;
    await harness.publishLines(json.slice(2 * third));
    await new Promise((resolve) => setTimeout(resolve, options.unavailableMs));
    shop.setFault(undefined);
    woo.faults.unavailableRate = 0;

    // Then slow: the next calls of each shop answered after 35 s.
    const slowFrom = Date.now();
    shop.setLatency({ ms: options.latencyMs, times: 2 });
    woo.faults.latency = { ms: options.latencyMs, times: 2 };
    await waitUntil(
      'slow calls answered by both shops',
      () => shop.requests.some((r) => r.at >= slowFrom && (r.answeredAt ?? 0) - r.at >= options.latencyMs) && woo.requests.some((r) => (r.at ?? 0) >= slowFrom && (r.answeredAt ?? 0) - (r.at ?? 0) >= options.latencyMs),
      options.latencyMs + 120_000,
    );
    const lastFault = Date.now();
    shop.setLatency(undefined);
    woo.faults.latency = undefined;

    const want = expectedShopState(lines);
    await waitUntil('both shops to hold the expected state', () => shopDrift(shopwareState(shop), want).length === 0 && shopDrift(wooState(woo), want).length === 0, 300_000).catch(() => undefined);
    const w = worker;
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    const recoverySeconds = (Date.now() - lastFault) / 1000;
    await worker.stop(60_000);
    worker = undefined;
    await monitor.stop();

    const calls: LoggedCall[] = [
      ...shop.requests.map((r) => ({ shop: 'shopware', path: r.path, at: r.receivedAt ?? r.at, answeredAt: r.answeredAt, status: r.status, ...(r.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: r.retryAfterSeconds }) })),
      ...woo.requests.map((r) => ({ shop: 'woocommerce', path: r.path, at: r.receivedAt ?? r.at ?? 0, answeredAt: r.answeredAt, status: r.status, ...(r.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: r.retryAfterSeconds }) })),
    ];
    const early = callsBeforeDeadline(calls);
    const inFlight = callsInFlight(calls);
    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const shopwareDrift = shopDrift(shopwareState(shop), want);
    const wooDrift = shopDrift(wooState(woo), want);
    const dlq = await harness.dlqDepth();
    const count = (status: number) => calls.filter((c) => c.status === status).length;
    record({
      test: name,
      events: lines.length,
      faults: `429 Retry-After ${options.retryAfterSeconds} s, ${count(503)} × 503, ${options.latencyMs / 1000} s latency; ${early.length} calls before a deadline (${inFlight} in flight), ${Object.values(dlq).reduce((a, b) => a + b, 0)} in DLQs`,
      lost: drift.lost.length + shopwareDrift.length + wooDrift.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(count(429), 'the 429s were answered').toBeGreaterThanOrEqual(2);
    expect(count(503), 'the 503s were answered').toBeGreaterThan(0);
    expect(early, 'calls before the Retry-After deadline').toEqual([]);
    expect(dlq, 'dead-lettered records').toEqual({});
    expect(shopwareDrift, 'Shopware against the expected state').toEqual([]);
    expect(wooDrift, 'WooCommerce against the expected state').toEqual([]);
    expect(shop.violations).toEqual([]);
    expectNoDrift(drift, monitor);
  } finally {
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    await harness.close();
    await shop.close();
    await woo.close();
  }
}
