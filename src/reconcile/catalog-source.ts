import type { Config } from '../config/index.js';
import type { EntityType } from '../core/entities.js';
import { parseKey } from '../core/keys.js';
import { diffCatalog } from '../producers/catalog/diff.js';
import type { CatalogRecord } from '../producers/catalog/read-file.js';
import { itemToMessages } from '../producers/items/to-messages.js';
import { sourceEntry } from './changes-source.js';
import type { SourceEntry } from './types.js';

export interface CatalogSnapshotOptions {
  tenant: string;
  type: EntityType;
  storeId: number;
  /** The tenant's configured stores, for the store-0 expansion. */
  stores: readonly number[];
  idField: string;
  filters: Config['filters'];
  now?: number;
}

export interface CatalogSnapshot {
  entries: Map<string, SourceEntry>;
  /** Rows that are no entity (no id, a repeated id, data the change schema refuses). */
  invalid: Array<{ row: number; message: string }>;
}

/**
 * The source snapshot of a catalog file: each row as `catalog sync` would publish it (one change
 * per store of a store-0 row), and what the map stage would make of it. A catalog file has no
 * versions (a sync gives them), so only presence and text hashes are compared.
 */
export function catalogSnapshot(records: CatalogRecord[], options: CatalogSnapshotOptions): CatalogSnapshot {
  const diff = diffCatalog(records, new Map(), { idField: options.idField });
  const invalid = [...diff.invalid];
  const entries = new Map<string, SourceEntry>();
  const now = options.now ?? Date.now();
  for (const entry of diff.added) {
    const result = itemToMessages({ type: options.type, id: entry.id, action: 'save', storeId: options.storeId, data: entry.record }, { tenant: options.tenant, stores: options.stores, sourceVersion: 0n, occurredAt: now, dataPath: '' });
    if (!result.ok) {
      invalid.push({ row: entry.row, message: result.issues.map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ') });
      continue;
    }
    for (const message of result.messages) {
      const source = sourceEntry(message.key, parseKey(message.key), options.type, message.value, null, now, { filters: options.filters, now });
      entries.set(message.key, { ...source, change: message, catalog: { id: entry.id, row: entry.row, fingerprint: entry.fingerprint } });
    }
  }
  return { entries, invalid };
}
