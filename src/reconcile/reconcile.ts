import type { Config } from '../config/index.js';
import type { ChangeSink } from '../core/changes.js';
import type { EntityType } from '../core/entities.js';
import type { createKafka } from '../kafka/client.js';
import type { CatalogRecord } from '../producers/catalog/read-file.js';
import type { CatalogState } from '../producers/catalog/state.js';
import type { VectorStore } from '../stores/vector-store.js';
import { catalogSnapshot } from './catalog-source.js';
import { readChangeSnapshot } from './changes-source.js';
import { compareShops, compareSnapshots } from './compare.js';
import { readShopSnapshots, type ShopSnapshotDeps } from './shop-snapshot.js';
import { planRepair, publishRepair } from './repair.js';
import { readStoreSnapshot } from './store-snapshot.js';
import type { ReconcileReport, SourceEntry } from './types.js';

export type ReconcileSource =
  | { kind: 'changes' }
  | { kind: 'catalog'; file: string; records: CatalogRecord[]; tenant: string; type: EntityType; storeId: number; stores: readonly number[]; idField: string };

export interface ReconcileOptions {
  source: ReconcileSource;
  /** Only this tenant / entity type (a catalog file is always one tenant and type). */
  tenant?: string;
  entityType?: EntityType;
  /** Publish the changes that repair the drift. */
  repair?: boolean;
}

export interface ReconcileDeps {
  kafka: ReturnType<typeof createKafka>;
  config: Pick<Config, 'topics' | 'filters' | 'runner' | 'kafka' | 'tenants' | 'redis'>;
  /** Connected by the caller. */
  store: VectorStore;
  /** What the report calls the store (secrets masked). */
  target: string;
  decode: (topic: string, bytes: Buffer) => Promise<unknown>;
  /** Needed with `repair`. */
  sink?: ChangeSink;
  /** Catalog files with `repair`: its scan clock gives the versions and it moves like `catalog sync`'s. */
  catalogState?: CatalogState;
  /**
   * Compare the shops of the tenants' targets too (Shopware, WooCommerce): omit to leave them out.
   * WooCommerce needs `redis` (its id mapping).
   */
  shops?: ShopSnapshotDeps;
  /** Notes to add to the report (the pipeline's lag), asked for once the snapshots are read. */
  notes?: () => Promise<string[]>;
  onProgress?: (phase: 'source' | 'store' | 'shops' | 'repair', done: number, total: number) => void;
  now?: () => number;
}

/**
 * `ragsync reconcile <source>` (docs/operations.md "Reconcile"): what the store holds per tenant and
 * type against a source snapshot, and with `repair` the changes that bring it back, published like
 * any other change so the pipeline applies them under its version guard.
 */
export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const source = options.source;
  let entries: Map<string, SourceEntry>;
  const notes: string[] = [];
  if (source.kind === 'changes') {
    entries = await readChangeSnapshot(deps.kafka, deps.config, {
      decode: deps.decode,
      ...(options.tenant ? { tenant: options.tenant } : {}),
      ...(options.entityType ? { entityType: options.entityType } : {}),
      onProgress: (done, total) => deps.onProgress?.('source', done, total),
      now: now(),
    });
  } else {
    const snapshot = catalogSnapshot(source.records, { tenant: source.tenant, type: source.type, storeId: source.storeId, stores: source.stores, idField: source.idField, filters: deps.config.filters, now: now() });
    entries = snapshot.entries;
    if (snapshot.invalid.length > 0) notes.push(`${snapshot.invalid.length} rows of ${source.file} are no entity and were left out (first: row ${snapshot.invalid[0]!.row}, ${snapshot.invalid[0]!.message})`);
  }

  const storeIds = source.kind === 'catalog' ? new Set([...entries.values()].map((e) => e.storeId)) : undefined;
  const tenant = source.kind === 'catalog' ? source.tenant : options.tenant;
  const entityType = source.kind === 'catalog' ? source.type : options.entityType;
  const stored = await readStoreSnapshot(deps.store, {
    inScope: (e) => (tenant === undefined || e.tenant === tenant) && (entityType === undefined || e.entityType === entityType) && (storeIds === undefined || storeIds.size === 0 || storeIds.has(e.storeId)),
    alsoRead: entries.keys(),
    onProgress: (done, total) => deps.onProgress?.('store', done, total),
  });
  const comparison = compareSnapshots(entries, stored);
  const shops = deps.shops ? compareShops(entries, await readShopSnapshots(deps.config, entries, { ...deps.shops, onProgress: (done, total) => deps.onProgress?.('shops', done, total) })) : undefined;
  notes.push(...((await deps.notes?.()) ?? []));
  const report: ReconcileReport = {
    source: source.kind === 'changes' ? `the change topics (${deps.config.topics.prefix}changes.*)` : source.file,
    target: deps.target,
    at: new Date(now()).toISOString(),
    scopes: comparison.scopes,
    ...(shops && shops.shops.length > 0 ? { shops: shops.shops } : {}),
    drift: [...comparison.drift, ...(shops?.drift ?? [])],
    totals: comparison.totals,
    notes,
  };
  if (!options.repair || report.drift.length === 0) {
    if (options.repair) report.repair = { republished: 0, deleted: 0, raised: 0, refused: [] };
    return report;
  }
  if (!deps.sink) throw new Error('reconcile --repair needs a change sink');

  const correlationId = `reconcile-${now()}`;
  let changes;
  if (source.kind === 'changes') {
    changes = planRepair(report.drift, entries, stored, { versionOf: (_item, entry) => entry?.version ?? undefined, occurredAt: (entry) => entry?.change.occurredAt ?? now(), correlationId });
  } else {
    if (!deps.catalogState) throw new Error('reconcile --repair of a catalog file needs its catalog state');
    // Versions as `catalog sync` gives them: the scan time × 1e6 + the row (deletes after the last row).
    const scanMs = await deps.catalogState.nextScanMillis(now());
    const base = BigInt(scanMs) * 1_000_000n;
    const rows = source.records.length;
    changes = planRepair(report.drift, entries, stored, { versionOf: (_item, entry, index) => base + BigInt(entry?.catalog?.row ?? rows + 1 + index), occurredAt: () => scanMs, correlationId });
  }
  report.repair = await publishRepair(changes, {
    sink: deps.sink,
    ackTimeoutMs: deps.config.kafka.ackTimeoutMs,
    ...(deps.catalogState && source.kind === 'catalog' ? { state: deps.catalogState } : {}),
    onProgress: (done, total) => deps.onProgress?.('repair', done, total),
  });
  return report;
}
