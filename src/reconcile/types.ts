import type { ChangeMessage } from '../core/changes.js';
import type { EntityType } from '../core/entities.js';

/**
 * What a source snapshot says one document should be (docs/operations.md "Reconcile"). The key is
 * the record key, which is also the store's doc_key.
 */
export interface SourceEntry {
  key: string;
  tenant: string;
  entityType: EntityType;
  storeId: number;
  /**
   * Whether the document belongs in the store: false for a key whose newest record is a tombstone
   * or an entity the map filters leave out (then the store must not hold it).
   */
  present: boolean;
  /** The source's version; null for a catalog file, whose versions are given when it is synced. */
  version: bigint | null;
  /** sha256 of the text the map stage makes of it (the store's `text_hash`); null when absent. */
  textHash: string | null;
  /** What a repair republishes: the change as the source holds it. */
  change: ChangeMessage;
  /** Catalog files: the record's id and row, for the catalog state and its versions. */
  catalog?: { id: string; row: number; fingerprint: unknown };
}

/** One live document of the store, or the head a missing one left behind. */
export interface StoreEntry {
  key: string;
  /** The head's version (of the last save or delete). */
  version: bigint;
  /** Whether the head is a delete marker. */
  deleted: boolean;
  /** `text_hash` of its points; null when it has none (a document without text). */
  textHash: string | null;
  points: number;
}

export type StaleReason = 'older' | 'newer' | 'text';

export interface DriftItem {
  /** A shop (`shopware:<host>`, `woocommerce:<host>`); absent for the store. */
  target?: string;
  key: string;
  tenant: string;
  entityType: string;
  kind: 'missing' | 'stale' | 'extra';
  /** Stale: why (older or newer version than the source, or the same version with another text). */
  reason?: StaleReason | 'deleted' | 'filtered' | 'not-in-source';
  sourceVersion: string | null;
  /** The version the store (or the shop, with `target`) holds. */
  storeVersion: string | null;
}

/** Counts of one shop: the source's products pushed to it, against what it holds. */
export interface ShopCounts {
  target: string;
  tenant: string;
  /** Products of the source that the shop should hold. */
  source: number;
  /** Of the keys asked about, those the shop has a product for. */
  found: number;
  inSync: number;
  missing: number;
  stale: number;
  extra: number;
}

/** Counts of one tenant and entity type. */
export interface ScopeCounts {
  tenant: string;
  entityType: string;
  /** Documents the source says belong in the store. */
  source: number;
  /** Live documents in the store. */
  store: number;
  inSync: number;
  missing: number;
  stale: number;
  extra: number;
}

export interface ReconcileReport {
  source: string;
  /** Store (and its collection) compared. */
  target: string;
  at: string;
  scopes: ScopeCounts[];
  /** With shop targets configured: each shop's counts (its drift is in `drift`, with `target`). */
  shops?: ShopCounts[];
  drift: DriftItem[];
  totals: { source: number; store: number; inSync: number; missing: number; stale: number; extra: number };
  /** Notes that qualify the result, e.g. lag of the pipeline (drift that may be in flight). */
  notes: string[];
  repair?: RepairSummary;
}

export interface RepairSummary {
  /** Saves republished for missing and stale documents. */
  republished: number;
  /** Delete events published for extra documents. */
  deleted: number;
  /** Republished with the store's newer version, so that its guard takes them. */
  raised: number;
  /** Changes the sink refused (too large, invalid), with the reason. */
  refused: Array<{ key: string; reason: string }>;
}
