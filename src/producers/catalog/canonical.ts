import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so two records with the same content always hash
 * the same whatever order the file wrote their fields in. Arrays keep their order (the order of
 * categories is content).
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What the state keeps per entity: the record hash and a short hash per top-level field. */
export interface RecordFingerprint {
  hash: string;
  fields: Record<string, string>;
}

/**
 * Per-field hashes are 16 hex characters (64 bits): enough to name changed fields of one record,
 * and a quarter of the size of full hashes in the state of a large catalog.
 */
export function fingerprint(record: Record<string, unknown>): RecordFingerprint {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(record)) {
    if (value === undefined) continue;
    fields[name] = sha256(canonicalJson(value)).slice(0, 16);
  }
  return { hash: sha256(canonicalJson(record)), fields };
}

/** Names of the fields added, removed or changed between two fingerprints, sorted. */
export function changedFields(before: RecordFingerprint, after: RecordFingerprint): string[] {
  const names = new Set([...Object.keys(before.fields), ...Object.keys(after.fields)]);
  return [...names].filter((n) => before.fields[n] !== after.fields[n]).sort();
}
