import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import kafkajs from 'kafkajs';
import { expect } from 'vitest';
import { topicCatalogue } from '../../../src/kafka/topic-catalogue.js';
import { ALIAS_FILE } from '../../../src/stores/lancedb/alias.js';
import type { PublishLine } from '../../support/generate-entities.js';
import { readAll, waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { SHOP_TAX_ID, shopTenants } from '../../support/shop-tenants.js';
import { startShopwareServer } from '../../support/shopware-server.js';
import { startWooServer } from '../../support/woocommerce-server.js';
import { pipelineEnv, runCli, WorkerProcess } from '../../support/worker-process.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, readLanceDb, VersionMonitor } from '../support/verify.js';
import { productKey, productLine, workload, type ExpectedDoc } from '../support/workload.js';
import { expectedShopState, shopDrift, shopwareState, wooState } from './shops.js';
import { drain } from './pipeline-lag.js';

// kafkajs is CommonJS and this export is not visible to Node's ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

const TENANT = 'faults';
const SKU = /[PF]-\d{5}/g;

/** The SKUs a request names anywhere: its body, its query. */
function skusOf(...parts: unknown[]): Set<string> {
  return new Set(parts.flatMap((part) => (part === undefined ? [] : [...JSON.stringify(part).matchAll(SKU)].map((m) => m[0]))));
}

async function countHeadRows(path: string, table: string): Promise<{ rows: number; keys: number }> {
  const db = await connect(path);
  try {
    const heads = await db.openTable(`${table}_heads`);
    const rows = (await heads.query().select(['doc_key']).toArray()) as Array<{ doc_key: string }>;
    return { rows: rows.length, keys: new Set(rows.map((r) => r.doc_key)).size };
  } finally {
    db.close();
  }
}

export interface ResyncLiveOptions {
  events: number;
  keys: number;
  /** Keys that live traffic changes while the resync runs. */
  changedKeys: number;
}

/**
 * Scenario 12: a tenant indexed and pushed to both loopback shops by `ragsync run all` (a process
 * of its own); its change topics then really compacted (tiny segments, no compaction lag, filler
 * records rolling the segments, tombstones removed); then `ragsync resync --from changes --into`
 * replays them from offset 0 while live traffic changes some keys. The new table (which the
 * collection name stands for afterwards) and each shop must equal the last event per key, no
 * version may go backwards in either table, and no shop may be called about an entity that did
 * not change since the resync started: a replay rebuilds the index, it does not push again.
 */
export async function resyncUnderLiveTraffic(name: string, options: ResyncLiveOptions, record: (row: FaultRow) => void): Promise<void> {
  const shop = await startShopwareServer({ taxIds: [SHOP_TAX_ID] });
  const woo = await startWooServer();
  const tenants = shopTenants(TENANT, shop, woo, { batchSize: 50 });
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '3', RAGSYNC_TENANTS: tenants, RAGSYNC_RETRY_DELAYS: '2s,5s,10s,20s,40s' });
  const { lancedbPath, collection } = harness.config.store;
  const into = `${collection}_v2`;
  const monitors = [new VersionMonitor(lancedbPath, collection), new VersionMonitor(lancedbPath, into)];
  const env = pipelineEnv(harness.config, { RAGSYNC_TENANTS: tenants, RAGSYNC_BREAKER_OPEN_MS: '3000', LOG_LEVEL: 'warn' });
  const admin = harness.kafka.admin();
  await admin.connect();
  try {
    // AlterConfigs replaces a topic's dynamic configs: send the catalogue's own with the overrides.
    const overrides = { 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01', 'min.compaction.lag.ms': '0', 'delete.retention.ms': '100' };
    await admin.alterConfigs({
      validateOnly: false,
      resources: topicCatalogue(harness.config)
        .filter((spec) => spec.compacted)
        .map((spec) => ({ type: ConfigResourceTypes.TOPIC, name: spec.name, configEntries: Object.entries({ ...spec.configs, ...overrides }).map(([n, value]) => ({ name: n, value })) })),
    });
  } finally {
    await admin.disconnect();
  }
  let worker: WorkerProcess | undefined;
  try {
    const initial = workload({ tenant: TENANT, seed: 12, keys: options.keys, events: options.events, storeId: 0 });
    const published: PublishLine[] = [...initial.lines];
    const expected = new Map<string, ExpectedDoc>(initial.expected);
    const versions = new Map<string, number>();
    for (const line of initial.lines) versions.set(line.id, Number(line.source_version));
    const publish = async (lines: PublishLine[]) => {
      await harness.publishLines(lines.map((l) => JSON.stringify(l)));
      published.push(...lines);
    };
    const save = (id: string): PublishLine => {
      const version = (versions.get(id) ?? 0) + 1;
      versions.set(id, version);
      const { line, title } = productLine(TENANT, id, version, 0);
      const docKey = productKey(TENANT, id, 0);
      expected.set(docKey, { docKey, version: BigInt(version), deleted: false, title });
      return line;
    };

    worker = WorkerProcess.start('worker', ['all'], env);
    for (const monitor of monitors) monitor.start();
    await harness.publishLines(initial.lines.map((l) => JSON.stringify(l)));
    const w = worker;
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    const settled = () => {
      const want = expectedShopState(published);
      return shopDrift(shopwareState(shop), want).length === 0 && shopDrift(wooState(woo), want).length === 0;
    };
    await waitUntil('both shops to hold the first state', settled, 180_000);

    // Compaction, really: filler saves on every partition roll the segments until each key of the
    // workload has at most one record left (none for a delete whose tombstone was removed).
    const topic = `${harness.config.topics.prefix}changes.product`;
    const ids = [...new Set(initial.lines.map((l) => l.id))];
    const deadline = Date.now() + 240_000;
    let kept = 0;
    for (;;) {
      await publish(Array.from({ length: 12 }, (_, i) => save(`F-${String(i).padStart(5, '0')}`)));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const records = (await readAll(harness.kafka, topic, 120_000)).filter((r) => r.key.includes('/P-'));
      const perKey = new Map<string, number>();
      for (const r of records) perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
      kept = records.length;
      if ([...perKey.values()].every((n) => n === 1)) break;
      if (Date.now() > deadline) throw new Error(`changes.product was not compacted in time: ${records.length} records of ${ids.length} keys`);
    }
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    await waitUntil('both shops to hold the fillers', settled, 120_000);

    // The resync, with live changes of some keys published until it ends.
    const changed = ids.slice(0, options.changedKeys);
    const liveFrom = Date.now();
    const resync = runCli(['resync', '--from', 'changes', '--into', into, '--progress', 'json', '--yes'], env, 900_000);
    let resyncDone = false;
    void resync.finally(() => (resyncDone = true));
    let liveEvents = 0;
    for (let tick = 0; !resyncDone || tick < 4; tick += 1) {
      const lines = Array.from({ length: 5 }, (_, i) => save(changed[(tick * 5 + i) % changed.length]!));
      await publish(lines);
      liveEvents += lines.length;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const result = await resync;
    const lastFault = Date.now();
    expect(result.code, `resync exit code; ${result.err.slice(-2000)}`).toBe(0);
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    await waitUntil('both shops to hold the final state', settled, 180_000).catch(() => undefined);
    const recoverySeconds = (Date.now() - lastFault) / 1000;
    await worker.stop(60_000);
    worker = undefined;
    for (const monitor of monitors) await monitor.stop();

    // The collection name stands for the new table now.
    const aliases = join(lancedbPath, ALIAS_FILE);
    const table = existsSync(aliases) ? (JSON.parse(readFileSync(aliases, 'utf8')) as Record<string, { table: string }>)[collection]?.table : undefined;
    expect(table, 'the table the collection stands for').toBe(into);
    const drift = compare(await readLanceDb(lancedbPath, into), expected);
    // One head row per document: with two, a reader (the monitor, the version guard) would see
    // whichever the scan returns last, and could take an older version for the current one.
    const headRows = await countHeadRows(lancedbPath, into);

    // Shop calls since the resync started, per entity; an entity unchanged since then has none.
    const calls = new Map<string, number>();
    const count = (skus: Set<string>) => skus.forEach((sku) => calls.set(sku, (calls.get(sku) ?? 0) + 1));
    for (const r of shop.requests) if (r.at >= liveFrom) count(skusOf(r.body));
    for (const r of woo.requests) if ((r.at ?? 0) >= liveFrom) count(skusOf(r.skus, r.query));
    const unchanged = ids.filter((id) => !changed.includes(id));
    const calledUnchanged = unchanged.filter((id) => calls.has(id)).map((id) => `${id}: ${calls.get(id)}`);
    const want = expectedShopState(published);
    const shopwareDrift = shopDrift(shopwareState(shop), want);
    const wooDrift = shopDrift(wooState(woo), want);
    const dlq = await harness.dlqDepth();
    const regressions = monitors.flatMap((m, i) => m.regressions.map((r) => ({ table: i === 0 ? collection : into, ...r })));
    const summary = result.out.trim().split('\n').map((l) => JSON.parse(l) as { phase: string; summary?: { replayed: number; swept: number } }).find((l) => l.phase === 'done')?.summary;
    record({
      test: name,
      events: published.length,
      faults: `compaction (${kept} records of ${ids.length} keys kept), resync of ${summary?.replayed ?? '?'} records (${summary?.swept ?? '?'} swept) during ${liveEvents} live events; ${calledUnchanged.length} unchanged entities called, ${changed.filter((id) => calls.has(id)).length} of ${changed.length} changed ones`,
      lost: drift.lost.length + shopwareDrift.length + wooDrift.length,
      stale: drift.stale.length + regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(liveEvents, 'live events published during the resync').toBeGreaterThan(0);
    expect(calledUnchanged, 'shop calls naming an entity unchanged since the resync started').toEqual([]);
    expect(shopwareDrift, 'Shopware against the expected state').toEqual([]);
    expect(wooDrift, 'WooCommerce against the expected state').toEqual([]);
    expect(dlq, 'dead-lettered records').toEqual({});
    expect(headRows.rows, 'head rows of the new table, one per document').toBe(headRows.keys);
    expect(regressions, 'versions that went backwards').toEqual([]);
    expectNoDrift(drift);
  } finally {
    await worker?.kill();
    for (const monitor of monitors) await monitor.stop().catch(() => undefined);
    await harness.close();
    await shop.close();
    await woo.close();
  }
}
