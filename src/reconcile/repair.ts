import type { ChangeMessage, ChangeSink } from '../core/changes.js';
import { parseKey } from '../core/keys.js';
import { HEADERS } from '../core/records.js';
import type { RecordFingerprint } from '../producers/catalog/canonical.js';
import type { CatalogState } from '../producers/catalog/state.js';
import { publishUnits } from '../producers/publish-units.js';
import type { DriftItem, RepairSummary, SourceEntry, StoreEntry } from './types.js';

/** One change a repair publishes, and what it repairs. */
export interface RepairChange {
  item: DriftItem;
  message: ChangeMessage;
  /** Published with the store's newer version instead of the source's. */
  raised: boolean;
  /** Catalog files: the state entry that moves once it is acknowledged. */
  catalog?: { saved?: { id: string; fingerprint: RecordFingerprint }; deleted?: string };
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);

/**
 * How a version is chosen for a change. A change topic's record is republished at its own version:
 * the map stage applies an equal version again and the store's guard takes an equal version too
 * (docs/design.md §2), so a missing or older document is written back with nothing made up. Only
 * when the store holds a newer version than the source (written behind the pipeline's back) is the
 * change raised to the store's version, the lowest its guard accepts. A catalog file's changes get
 * versions the way `catalog sync` gives them (scan time × 1e6 + row), raised the same way.
 */
export type VersionOf = (item: DriftItem, entry: SourceEntry | undefined, index: number) => bigint | undefined;

/** The changes that repair `drift`: saves for missing and stale documents, deletes for extra ones. */
export function planRepair(
  drift: readonly DriftItem[],
  source: ReadonlyMap<string, SourceEntry>,
  store: ReadonlyMap<string, StoreEntry>,
  options: { versionOf: VersionOf; occurredAt: (entry: SourceEntry | undefined) => number; correlationId: string },
): RepairChange[] {
  // One change per key, also when the store and shops drift on it: at the highest version any holds.
  const held = new Map<string, bigint>();
  for (const item of drift) {
    const version = item.storeVersion === null ? 0n : BigInt(item.storeVersion);
    held.set(item.key, max(held.get(item.key) ?? store.get(item.key)?.version ?? 0n, version));
  }
  const seen = new Set<string>();
  const unique = drift.filter((item) => !seen.has(item.key) && seen.add(item.key) !== undefined);
  return unique.map((item, index) => {
    const entry = source.get(item.key);
    const stored = held.get(item.key) ?? 0n;
    // undefined: the source has no version for it (a key it never had): the store's own.
    const wanted = options.versionOf(item, entry, index) ?? stored;
    const version = max(wanted, stored);
    const occurredAt = options.occurredAt(entry);
    const headers = { [HEADERS.sourceVersion]: version.toString(), [HEADERS.occurredAt]: String(occurredAt), [HEADERS.correlationId]: options.correlationId };
    const base = { item, raised: version > wanted };
    // Not in the source at all: a delete event for the key.
    if (!entry) {
      const { entityType, entityId } = parseKey(item.key);
      return { ...base, message: { type: entityType, key: item.key, value: null, sourceVersion: version, occurredAt, headers }, catalog: { deleted: entityId } };
    }
    // The source's own change again (a save, a tombstone, or an entity the filters leave out,
    // which the map stage turns into a delete): its value with the chosen version and time.
    const value = entry.change.value === null ? null : { ...entry.change.value, source_version: version, occurred_at: occurredAt };
    const saved = entry.catalog ? { saved: { id: entry.catalog.id, fingerprint: entry.catalog.fingerprint as RecordFingerprint } } : {};
    return { ...base, message: { type: entry.change.type, key: item.key, value, sourceVersion: version, occurredAt, headers }, ...(entry.catalog ? { catalog: saved } : {}) };
  });
}

export interface PublishRepairOptions {
  sink: ChangeSink;
  ackTimeoutMs?: number;
  /** Changes per acknowledged publish call. @defaultValue 500 */
  batchSize?: number;
  /** Catalog files: the state that moves after each acknowledged batch, like `catalog sync`'s. */
  state?: CatalogState;
  onProgress?: (done: number, total: number) => void;
}

/** Publishes the repair, batch by batch, each acknowledged by Kafka before the next. */
export async function publishRepair(changes: readonly RepairChange[], options: PublishRepairOptions): Promise<RepairSummary> {
  const summary: RepairSummary = { republished: 0, deleted: 0, raised: 0, refused: [] };
  const batchSize = options.batchSize ?? 500;
  options.onProgress?.(0, changes.length);
  for (let i = 0; i < changes.length; i += batchSize) {
    const batch = changes.slice(i, i + batchSize);
    const refused = await publishUnits(
      options.sink,
      batch.map((c) => ({ messages: [c.message] })),
      options.ackTimeoutMs === undefined ? {} : { timeoutMs: options.ackTimeoutMs },
    );
    const left = new Set(refused.map((r) => r.unit));
    for (const r of refused) summary.refused.push({ key: batch[r.unit]!.item.key, reason: r.issues.map((issue) => issue.message).join('; ') });
    const sent = batch.filter((_, index) => !left.has(index));
    for (const change of sent) {
      if (change.message.value === null || change.item.kind === 'extra') summary.deleted++;
      else summary.republished++;
      if (change.raised) summary.raised++;
    }
    if (options.state) {
      await options.state.apply(
        sent.flatMap((c) => (c.catalog?.saved ? [c.catalog.saved] : [])),
        sent.flatMap((c) => (c.catalog?.deleted ? [c.catalog.deleted] : [])),
      );
    }
    options.onProgress?.(Math.min(i + batchSize, changes.length), changes.length);
  }
  return summary;
}
