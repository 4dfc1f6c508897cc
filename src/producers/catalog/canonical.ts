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

/** A record's hash, with the canonical JSON of each top-level field kept for fieldHashes. */
export interface RecordHash {
  hash: string;
  parts: Array<[name: string, canonical: string]>;
}

/** Hashes the canonical JSON of the whole record, built from its fields' canonical forms. */
export function hashRecord(record: Record<string, unknown>): RecordHash {
  const parts: Array<[string, string]> = [];
  for (const name of Object.keys(record).sort()) {
    const value = record[name];
    if (value !== undefined) parts.push([name, canonicalJson(value)]);
  }
  const whole = `{${parts.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
  return { hash: sha256(whole), parts };
}

/**
 * Per-field hashes are 16 hex characters (64 bits): enough to name the changed fields of one
 * record, and a quarter of the size of full hashes in the state of a large catalog. Computed only
 * for records that changed (unchanged ones keep their stored fingerprint).
 */
export function fingerprintOf(hashed: RecordHash): RecordFingerprint {
  return { hash: hashed.hash, fields: Object.fromEntries(hashed.parts.map(([name, canonical]) => [name, sha256(canonical).slice(0, 16)])) };
}

export function fingerprint(record: Record<string, unknown>): RecordFingerprint {
  return fingerprintOf(hashRecord(record));
}

/** Names of the fields added, removed or changed between two fingerprints, sorted. */
export function changedFields(before: RecordFingerprint, after: RecordFingerprint): string[] {
  const names = new Set([...Object.keys(before.fields), ...Object.keys(after.fields)]);
  return [...names].filter((n) => before.fields[n] !== after.fields[n]).sort();
}
