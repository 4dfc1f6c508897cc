import { parseKey } from '../core/keys.js';
import type { ShopSnapshot } from './shop-snapshot.js';
import type { DriftItem, ReconcileReport, ScopeCounts, ShopCounts, SourceEntry, StoreEntry } from './types.js';

/** What the source and the store of one scope hold, and where they differ (pure). */
export interface Comparison {
  scopes: ScopeCounts[];
  drift: DriftItem[];
  totals: ReconcileReport['totals'];
}

const text = (version: bigint | null | undefined) => (version === null || version === undefined ? null : version.toString());

/**
 * Compares a source snapshot with the store's live documents:
 * - missing: the source holds the document, the store has no live one;
 * - stale: both hold it, with another version (older or newer) or, at the same version (or with a
 *   source without versions), another text hash;
 * - extra: the store holds a live document the source does not (never had, a tombstone, or an
 *   entity the map filters leave out).
 * A store document without points has no text hash: only its version is compared.
 */
export function compareSnapshots(source: ReadonlyMap<string, SourceEntry>, store: ReadonlyMap<string, StoreEntry>): Comparison {
  const scopes = new Map<string, ScopeCounts>();
  const scope = (tenant: string, entityType: string) => {
    const id = `${tenant}\u0000${entityType}`;
    let counts = scopes.get(id);
    if (!counts) scopes.set(id, (counts = { tenant, entityType, source: 0, store: 0, inSync: 0, missing: 0, stale: 0, extra: 0 }));
    return counts;
  };
  const drift: DriftItem[] = [];
  const live = (key: string) => {
    const entry = store.get(key);
    return entry !== undefined && !entry.deleted ? entry : undefined;
  };

  for (const entry of source.values()) {
    const counts = scope(entry.tenant, entry.entityType);
    const stored = live(entry.key);
    if (stored) counts.store++;
    const item = { key: entry.key, tenant: entry.tenant, entityType: entry.entityType, sourceVersion: text(entry.version), storeVersion: text(stored?.version ?? store.get(entry.key)?.version) };
    if (!entry.present) {
      if (stored) {
        counts.extra++;
        drift.push({ ...item, kind: 'extra', reason: entry.change.value === null ? 'deleted' : 'filtered' });
      }
      continue;
    }
    counts.source++;
    if (!stored) {
      counts.missing++;
      drift.push({ ...item, kind: 'missing' });
      continue;
    }
    const reason = entry.version !== null && stored.version < entry.version ? 'older' : entry.version !== null && stored.version > entry.version ? 'newer' : stored.textHash !== null && stored.textHash !== entry.textHash ? 'text' : undefined;
    if (reason) {
      counts.stale++;
      drift.push({ ...item, kind: 'stale', reason });
    } else counts.inSync++;
  }

  for (const stored of store.values()) {
    if (stored.deleted || source.has(stored.key)) continue;
    const { tenant, entityType } = parseKey(stored.key);
    const counts = scope(tenant, entityType);
    counts.store++;
    counts.extra++;
    drift.push({ key: stored.key, tenant, entityType, kind: 'extra', reason: 'not-in-source', sourceVersion: null, storeVersion: stored.version.toString() });
  }

  const sorted = [...scopes.values()].sort((a, b) => a.tenant.localeCompare(b.tenant) || a.entityType.localeCompare(b.entityType));
  const totals = { source: 0, store: 0, inSync: 0, missing: 0, stale: 0, extra: 0 };
  for (const s of sorted) for (const field of Object.keys(totals) as Array<keyof typeof totals>) totals[field] += s[field];
  const order = { missing: 0, stale: 1, extra: 2 };
  drift.sort((a, b) => order[a.kind] - order[b.kind] || a.key.localeCompare(b.key));
  return { scopes: sorted, drift, totals };
}

/**
 * Compares each shop's products with the source: a product change the shop lacks is missing, one
 * it holds at another product version is stale, and a product it still holds whose newest record
 * is a tombstone is extra. The push stages take no map filters, so only tombstones make a product
 * absent. Without source versions (a catalog file) only presence counts.
 */
export function compareShops(source: ReadonlyMap<string, SourceEntry>, shops: readonly ShopSnapshot[]): { shops: ShopCounts[]; drift: DriftItem[] } {
  const counts: ShopCounts[] = [];
  const drift: DriftItem[] = [];
  for (const shop of shops) {
    const c: ShopCounts = { target: shop.target, tenant: shop.tenant, source: 0, found: 0, inSync: 0, missing: 0, stale: 0, extra: 0 };
    for (const [key, held] of shop.products) {
      const entry = source.get(key);
      if (!entry) continue;
      if (held !== null) c.found++;
      const item = { target: shop.target, key, tenant: entry.tenant, entityType: entry.entityType, sourceVersion: text(entry.version), storeVersion: text(held) };
      if (entry.change.value === null) {
        if (held !== null) {
          c.extra++;
          drift.push({ ...item, kind: 'extra', reason: 'deleted' });
        }
        continue;
      }
      c.source++;
      if (held === null) {
        c.missing++;
        drift.push({ ...item, kind: 'missing' });
      } else if (entry.version !== null && held !== entry.version) {
        c.stale++;
        drift.push({ ...item, kind: 'stale', reason: held < entry.version ? 'older' : 'newer' });
      } else c.inSync++;
    }
    counts.push(c);
  }
  const order = { missing: 0, stale: 1, extra: 2 };
  drift.sort((a, b) => a.target!.localeCompare(b.target!) || order[a.kind] - order[b.kind] || a.key.localeCompare(b.key));
  return { shops: counts, drift };
}
