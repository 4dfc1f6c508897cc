import type { ChangeMessage, ChangeSink } from '../../core/changes.js';
import type { ChangeType } from '../../core/entities.js';
import { HEADERS } from '../../core/records.js';
import type { FieldIssue } from '../items/fields.js';
import { itemToMessages } from '../items/to-messages.js';
import { publishUnits } from '../publish-units.js';
import type { RecordFingerprint } from './canonical.js';
import { appendChangeLog, type ChangeLogEntry } from './change-log.js';
import { diffCatalog, type CatalogDiff } from './diff.js';
import type { CatalogRecord } from './read-file.js';
import type { CatalogState } from './state.js';

export interface CatalogSyncOptions {
  tenant: string;
  type: ChangeType;
  storeId: number;
  /** The tenant's configured stores, for the store-0 expansion. */
  stores: readonly number[];
  idField: string;
  force?: boolean;
  sink: ChangeSink;
  state: CatalogState;
  /** NDJSON change log; null writes none. */
  logPath: string | null;
  ackTimeoutMs?: number;
  /** Records per acknowledged publish call; the state moves after each. */
  batchSize?: number;
}

export interface CatalogSyncSummary {
  diff: CatalogDiff;
  published: number;
  /** Present records whose data failed validation: not published, state unchanged for them. */
  rejected: Array<{ row: number; id?: string; issues: FieldIssue[] }>;
  sourceVersionBase: string;
}

/** Rows beyond this cannot be told apart in the version's sub-index. */
export const MAX_ROWS = 1_000_000;

/**
 * One sync of a catalog file: diff against the state, publish saves for added and modified records
 * and tombstones for deleted ids, then move the state and append the change log, batch by batch,
 * each only after Kafka acknowledged it.
 *
 * source_version = scan time in ms × 1e6 + row (deleted ids take rows after the file's last), where
 * the scan time comes from CatalogState.nextScanMillis and so rises with every scan even if the
 * clock goes back: an entity's versions always go up, on the same scale as the other connectors.
 */
export async function syncCatalog(records: CatalogRecord[], options: CatalogSyncOptions): Promise<CatalogSyncSummary> {
  if (records.length >= MAX_ROWS) throw new RangeError(`a catalog file holds at most ${MAX_ROWS - 1} records; split it`);
  const previous = await options.state.load();
  const diff = diffCatalog(records, previous, { idField: options.idField, force: options.force });
  if (records.length + diff.deleted.length >= MAX_ROWS) throw new RangeError(`a catalog sync covers at most ${MAX_ROWS - 1} rows and deletions; split the file`);
  const scanMs = await options.state.nextScanMillis();
  const base = BigInt(scanMs) * 1_000_000n;
  const summary: CatalogSyncSummary = { diff, published: 0, rejected: diff.invalid.map((i) => ({ row: i.row, issues: [{ path: options.idField, message: i.message }] })), sourceVersionBase: base.toString() };

  type Unit = { row: number; messages: ChangeMessage[]; saved?: { id: string; fingerprint: RecordFingerprint }; deleted?: string; log: ChangeLogEntry };
  const units: Unit[] = [];
  const context = (row: number) => ({ tenant: options.tenant, stores: options.stores, sourceVersion: base + BigInt(row), occurredAt: scanMs });
  const log = (change_type: ChangeLogEntry['change_type'], id: string, version: bigint, fields?: string[]): ChangeLogEntry => ({
    timestamp: new Date(scanMs).toISOString(), tenant: options.tenant, type: options.type, store_id: options.storeId, change_type, id,
    ...(fields ? { fields_changed: fields } : {}), source_version: version.toString(),
  });

  const changed = [...diff.added.map((e) => ({ ...e, kind: 'added' as const, fields: undefined })), ...diff.modified.map((e) => ({ ...e, kind: 'modified' as const }))];
  for (const entry of changed.sort((a, b) => a.row - b.row)) {
    const result = itemToMessages({ type: options.type, id: entry.id, action: 'save', storeId: options.storeId, data: entry.record }, { ...context(entry.row), dataPath: '' });
    if (!result.ok) {
      summary.rejected.push({ row: entry.row, id: entry.id, issues: result.issues });
      continue;
    }
    units.push({ row: entry.row, messages: result.messages, saved: { id: entry.id, fingerprint: entry.fingerprint }, log: log(entry.kind, entry.id, base + BigInt(entry.row), entry.fields) });
  }
  diff.deleted.forEach((id, i) => {
    const row = records.length + 1 + i;
    const result = itemToMessages({ type: options.type, id, action: 'delete', storeId: options.storeId }, context(row));
    if (result.ok) units.push({ row, messages: result.messages, deleted: id, log: log('deleted', id, base + BigInt(row)) });
    else summary.rejected.push({ row, id, issues: result.issues });
  });

  const batchSize = options.batchSize ?? 1000;
  for (let i = 0; i < units.length; i += batchSize) {
    const sent = units.slice(i, i + batchSize);
    for (const m of sent.flatMap((u) => u.messages)) m.headers = { ...m.headers, [HEADERS.correlationId]: `catalog-${scanMs}` };
    // A row the sink refuses before sending (a record too large for its topic) is rejected like an
    // invalid one: not published, its state left as it was, so it is tried again next time.
    const refused = await publishUnits(options.sink, sent, options.ackTimeoutMs === undefined ? {} : { timeoutMs: options.ackTimeoutMs });
    for (const { unit, issues } of refused) summary.rejected.push({ row: sent[unit]!.row, id: sent[unit]!.saved?.id ?? sent[unit]!.deleted, issues });
    const left = new Set(refused.map((r) => r.unit));
    const batch = sent.filter((_, index) => !left.has(index));
    const messages = batch.flatMap((u) => u.messages);
    await options.state.apply(
      batch.flatMap((u) => (u.saved ? [u.saved] : [])),
      batch.flatMap((u) => (u.deleted ? [u.deleted] : [])),
    );
    if (options.logPath) await appendChangeLog(options.logPath, batch.map((u) => u.log));
    summary.published += messages.length;
  }
  return summary;
}
