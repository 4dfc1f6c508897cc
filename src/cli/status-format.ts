import { formatRetryStatus, formatWait } from '../kafka/retry-status.js';
import { formatAge, verdictLine } from './status-verdict.js';
import type { PipelineStatus } from './status-view.js';

const rate = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n >= 10 ? n.toFixed(0) : n.toFixed(1));
const ms = (n: number): string => (n < 1000 ? `${Math.round(n)}ms` : n < 60_000 ? `${(n / 1000).toFixed(1)}s` : formatWait(n));

/** Left-aligned columns, the last one free. */
function table(header: string[], rows: string[][], indent = '  '): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * `ragsync status` for people: with the detail (`collectStatus(..., { detail })`) a verdict line
 * first, then one table row per stage, the partitions with lag, dead letters by reason, circuits,
 * retry tiers, the index, last events, freshness and the embedding cache; without it the short
 * form (lag and DLQ depth per stage, store counts, circuits) the demo prints.
 */
export function formatStatus(status: PipelineStatus, now = Date.now()): string {
  if (status.verdict === undefined) return shortForm(status);
  const lines: string[] = [`verdict: ${verdictLine(status.verdict)}`, ''];
  lines.push(
    ...table(
      ['stage', 'group', 'lag', 'in/s', 'done/s', 'oldest', 'dlq'],
      status.stages.map((s) => [
        s.stage,
        s.group,
        String(s.lag),
        rate(s.inPerSecond),
        rate(s.donePerSecond),
        s.oldestUnprocessedMs === null || s.oldestUnprocessedMs === undefined ? '-' : formatAge(s.oldestUnprocessedMs),
        s.dlq === undefined ? '-' : String(s.dlq),
      ]),
    ),
  );
  const lagging = status.stages.flatMap((s) => (s.partitions ?? []).filter((p) => p.lag > 0).map((p) => ({ s, p })));
  if (lagging.length > 0) {
    lines.push('', 'partitions with lag:');
    lines.push(
      ...table(
        ['stage', 'topic', 'part', 'committed', 'end', 'lag', 'oldest unprocessed'],
        lagging.map(({ s, p }) => [s.stage, p.topic, String(p.partition), p.committed === null ? 'none' : String(p.committed), String(p.high), String(p.lag), p.oldestUnprocessedAt ? `${p.oldestUnprocessedAt} (${formatAge(now - Date.parse(p.oldestUnprocessedAt))} ago)` : '?']),
      ),
    );
  }
  const retentions = status.stages.filter((s) => s.deleteRetentionMs !== null && s.deleteRetentionMs !== undefined).map((s) => s.deleteRetentionMs!);
  if (retentions.length > 0) lines.push('', `deletes: tombstones stay ${formatAge(Math.min(...retentions))} on the compacted inputs (delete.retention.ms); a group must process them within that`);
  if ((status.dlqByReason ?? []).length > 0) {
    lines.push('', 'dead letters still to handle, by reason (`ragsync dlq list` for samples):');
    lines.push(...table(['group', 'code', 'class', 'count', 'last message'], status.dlqByReason!.map((r) => [r.group, r.code, r.errorClass, String(r.count), r.lastMessage.replace(/\s+/g, ' ').slice(0, 100)])));
  }
  lines.push('');
  if ((status.circuits ?? []).length === 0) lines.push('circuits: unknown (Redis did not answer)');
  for (const c of status.circuits ?? []) {
    const detail = c.state === 'open' ? `, half-open in ${formatWait(c.waitMs)}` : c.state === 'closed' && c.failures > 0 ? `, ${c.failures} failure(s) in a row` : '';
    lines.push(`circuit ${c.target}: ${c.state}${detail}`);
  }
  for (const line of formatRetryStatus(status.retries ?? [], now)) lines.push(line);
  lines.push('');
  if (status.points !== undefined) lines.push(`index: ${status.documents} documents, ${status.points} points`);
  if ((status.documentsByType ?? []).length > 0) lines.push(`  documents: ${status.documentsByType!.map((d) => `${d.tenant}/${d.entityType} ${d.documents}`).join(', ')}`);
  if ((status.pointsByType ?? []).length > 0) lines.push(`  points:    ${status.pointsByType!.map((d) => `${d.tenant}/${d.docType} ${d.points}`).join(', ')}`);
  const events = (status.lastEvents ?? []).filter((e) => e.at !== null);
  lines.push(`last event: ${events.length === 0 ? 'none yet' : events.map((e) => `${e.entityType} ${formatAge(now - Date.parse(e.at!))} ago`).join(', ')}`);
  if (status.freshness !== undefined) {
    if (status.freshness.length === 0) lines.push('freshness (source to target): no change reached a target lately');
    else {
      lines.push('freshness (source to target, recent changes):');
      lines.push(...table(['target', 'class', 'p50', 'p95', 'max', 'samples', 'last'], status.freshness.map((f) => [f.where, f.class, ms(f.p50Ms), ms(f.p95Ms), ms(f.maxMs), String(f.samples), `${formatWait(now - Date.parse(f.lastAt))} ago`])));
    }
  }
  if (status.embeddingCache) {
    const c = status.embeddingCache;
    lines.push(`embedding cache (last minute): ${c.hitRatio === null ? 'no text embedded' : `${(c.hitRatio * 100).toFixed(0)}% hits (${c.hits} of ${c.hits + c.misses} texts)`}`);
  }
  for (const note of status.verdict.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

function shortForm(status: PipelineStatus): string {
  const width = Math.max(6, ...status.stages.map((s) => s.stage.length));
  const groupWidth = Math.max(18, ...status.stages.map((s) => s.group.length));
  const lines = status.stages.map((s) => `  ${s.stage.padEnd(width)} group ${s.group.padEnd(groupWidth)} lag ${String(s.lag).padStart(6)}   dlq ${s.dlq ?? '-'}`);
  if (status.points !== undefined) lines.push(`  ${'store'.padEnd(width)} ${status.documents} documents, ${status.points} points`);
  if (status.storeProblem !== undefined) lines.push(`  ${'store'.padEnd(width)} not counted: ${status.storeProblem}`);
  for (const c of status.circuits ?? []) {
    const detail = c.state === 'open' ? `, half-open in ${Math.ceil(c.waitMs / 1000)} s` : c.state === 'closed' && c.failures > 0 ? `, ${c.failures} failure(s) in a row` : '';
    lines.push(`  circuit ${c.target}: ${c.state}${detail}`);
  }
  return lines.join('\n');
}
