import { changedFields, fingerprintOf, hashRecord, type RecordFingerprint } from './canonical.js';
import type { CatalogRecord } from './read-file.js';

export interface CatalogEntry {
  id: string;
  /** 1-based position in the file, for messages and the version's sub-index. */
  row: number;
  record: CatalogRecord;
  /** Full for added and modified entries; for unchanged ones only `hash` is filled. */
  fingerprint: RecordFingerprint;
}

export interface CatalogDiff {
  added: CatalogEntry[];
  /** With the names of the fields that changed. */
  modified: Array<CatalogEntry & { fields: string[] }>;
  /** Ids that were in the previous state and are not in the file. */
  deleted: string[];
  unchanged: CatalogEntry[];
  /** Rows without a usable id, or repeating an id seen earlier in the file. */
  invalid: Array<{ row: number; message: string }>;
}

/**
 * Compares the records of a file with the fingerprints kept from the last acknowledged sync.
 * Pure and O(n): 10,000 products diff in well under a second (bench/catalog-diff.bench.ts).
 * With `force`, every present record counts as modified (all fields named).
 */
export function diffCatalog(
  records: CatalogRecord[],
  previous: ReadonlyMap<string, RecordFingerprint>,
  options: { idField: string; force?: boolean },
): CatalogDiff {
  const diff: CatalogDiff = { added: [], modified: [], deleted: [], unchanged: [], invalid: [] };
  const seen = new Map<string, number>();
  records.forEach((record, index) => {
    const row = index + 1;
    const rawId = record[options.idField];
    const id = typeof rawId === 'number' && Number.isFinite(rawId) ? String(rawId) : typeof rawId === 'string' ? rawId.trim().normalize('NFC') : '';
    if (id === '') {
      diff.invalid.push({ row, message: `has no ${options.idField}` });
      return;
    }
    const first = seen.get(id);
    if (first !== undefined) {
      diff.invalid.push({ row, message: `repeats ${options.idField} "${id}" of row ${first}` });
      return;
    }
    seen.set(id, row);
    const hashed = hashRecord(record);
    const before = previous.get(id);
    if (before && !options.force && before.hash === hashed.hash) {
      diff.unchanged.push({ id, row, record, fingerprint: { hash: hashed.hash, fields: {} } });
      return;
    }
    const entry: CatalogEntry = { id, row, record, fingerprint: fingerprintOf(hashed) };
    if (!before) diff.added.push(entry);
    else {
      const fields = changedFields(before, entry.fingerprint);
      diff.modified.push({ ...entry, fields: fields.length > 0 ? fields : Object.keys(entry.fingerprint.fields).sort() });
    }
  });
  for (const id of previous.keys()) if (!seen.has(id)) diff.deleted.push(id);
  return diff;
}
