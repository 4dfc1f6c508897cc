import type { ReconcileReport } from './types.js';

const table = (rows: string[][]): string[] => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd());
};

/** The report for people: a table per tenant and type, then each drifted document (at most `limit`). */
export function formatReport(report: ReconcileReport, limit = 50): string {
  const lines = [`reconcile ${report.source} against ${report.target} (${report.at})`, ''];
  const header = ['tenant', 'type', 'source', 'store', 'in sync', 'missing', 'stale', 'extra'];
  const rows = report.scopes.map((s) => [s.tenant, s.entityType, ...[s.source, s.store, s.inSync, s.missing, s.stale, s.extra].map(String)]);
  const t = report.totals;
  if (rows.length === 0) lines.push('nothing in the source or the store (in this scope)');
  else lines.push(...table([header, ...rows, ['total', '', ...[t.source, t.store, t.inSync, t.missing, t.stale, t.extra].map(String)]]));
  if (report.shops && report.shops.length > 0) {
    lines.push('', 'shops (products of the source pushed to each):');
    const shopRows = report.shops.map((s) => [s.target, s.tenant, ...[s.source, s.found, s.inSync, s.missing, s.stale, s.extra].map(String)]);
    lines.push(...table([['shop', 'tenant', 'source', 'found', 'in sync', 'missing', 'stale', 'extra'], ...shopRows]));
  }
  if (report.drift.length > 0) {
    lines.push('', 'drift:');
    for (const item of report.drift.slice(0, limit)) {
      const versions = `source ${item.sourceVersion ?? '-'}, ${item.target ? 'shop' : 'store'} ${item.storeVersion ?? '-'}`;
      lines.push(`  ${item.kind.padEnd(7)} ${item.target ? `${item.target} ` : ''}${item.key}  (${item.reason ? `${item.reason}; ` : ''}${versions})`);
    }
    if (report.drift.length > limit) lines.push(`  … and ${report.drift.length - limit} more (--json lists all)`);
  }
  for (const note of report.notes) lines.push('', `note: ${note}`);
  if (report.repair) {
    const r = report.repair;
    lines.push('', `repair: ${r.republished} republished, ${r.deleted} delete events${r.raised > 0 ? `, ${r.raised} at the store's newer version` : ''}${r.refused.length > 0 ? `, ${r.refused.length} refused` : ''}`);
    for (const refused of r.refused.slice(0, limit)) lines.push(`  refused ${refused.key}: ${refused.reason}`);
    lines.push('the pipeline applies them as it applies any change; run reconcile again once it has no lag to check');
  }
  const count = (kind: string, target: boolean) => report.drift.filter((d) => d.kind === kind && (d.target !== undefined) === target).length;
  const shops = report.drift.some((d) => d.target !== undefined) ? `; shops: ${count('missing', true)} missing, ${count('stale', true)} stale, ${count('extra', true)} extra` : '';
  lines.push('', report.drift.length === 0 ? 'in sync' : `drift: ${t.missing} missing, ${t.stale} stale, ${t.extra} extra${shops}`);
  return lines.join('\n');
}

/** The report as `--json` prints it (versions as decimal strings). */
export function reportJson(report: ReconcileReport): string {
  return JSON.stringify({ ...report, inSync: report.drift.length === 0 }, null, 2);
}
