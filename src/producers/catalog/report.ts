import type { CatalogDiff } from './diff.js';
import type { CatalogSyncSummary } from './sync.js';

/** The readable summary of a diff, in the spirit of the seed's `monitor` output. */
export function formatDiff(diff: CatalogDiff, scope: { file: string; tenant: string; type: string; storeId: number }, limit = 50): string {
  const total = diff.added.length + diff.modified.length + diff.deleted.length;
  const out = [`Catalog ${scope.file} (tenant ${scope.tenant}, ${scope.type}, store ${scope.storeId})`];
  out.push(total === 0 ? 'No changes.' : `${total} change(s):`);
  const section = (title: string, entries: string[]) => {
    if (entries.length === 0) return;
    out.push('', `${title} (${entries.length}):`, ...entries.slice(0, limit));
    if (entries.length > limit) out.push(`  … and ${entries.length - limit} more (use --json for all)`);
  };
  section('ADDED', diff.added.map((e) => `  + ${e.id}`));
  section('MODIFIED', diff.modified.map((e) => `  ~ ${e.id}\n      fields: ${e.fields.join(', ')}`));
  section('DELETED', diff.deleted.map((id) => `  - ${id}`));
  section('INVALID ROWS', diff.invalid.map((i) => `  row ${i.row}: ${i.message}`));
  out.push('', `Unchanged: ${diff.unchanged.length}`);
  return out.join('\n');
}

/** The JSON form of a diff: ids and field names, never the records. */
export function diffJson(diff: CatalogDiff) {
  return {
    added: diff.added.map((e) => e.id),
    modified: diff.modified.map((e) => ({ id: e.id, fields: e.fields })),
    deleted: diff.deleted,
    unchanged: diff.unchanged.length,
    invalid: diff.invalid,
  };
}

export function syncJson(summary: CatalogSyncSummary) {
  return { ...diffJson(summary.diff), published: summary.published, rejected: summary.rejected, source_version_base: summary.sourceVersionBase };
}

export function formatSync(summary: CatalogSyncSummary): string {
  const d = summary.diff;
  const lines = [`published ${summary.published} record(s): ${d.added.length} added, ${d.modified.length} modified, ${d.deleted.length} deleted; ${d.unchanged.length} unchanged`];
  if (summary.rejected.length > 0) {
    lines.push(`rejected ${summary.rejected.length} row(s) (not published, state unchanged):`);
    for (const r of summary.rejected.slice(0, 50)) lines.push(`  row ${r.row}${r.id ? ` (${r.id})` : ''}: ${r.issues.map((i) => `${i.path} ${i.message}`.trim()).join('; ')}`);
  }
  return lines.join('\n');
}
