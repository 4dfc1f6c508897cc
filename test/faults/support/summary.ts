/**
 * One row of the fault suite's summary table: what a test put in, what it broke, and what was
 * lost, stale or written twice after the pipeline recovered. A test records its row in its task's
 * meta, which the summary reporter (test/faults/summary-reporter.ts) prints as a table.
 */
export interface FaultRow {
  test: string;
  events: number;
  faults: string;
  lost: number;
  stale: number;
  duplicates: number;
  /** From the last fault to every group without lag. */
  recoverySeconds: number;
}

declare module 'vitest' {
  interface TaskMeta {
    fault?: FaultRow;
  }
}

export function formatTable(rows: readonly FaultRow[]): string {
  const header = ['test', 'events', 'faults injected', 'lost', 'stale', 'duplicates', 'time to recover'];
  const body = rows.map((r) => [r.test, String(r.events), r.faults, String(r.lost), String(r.stale), String(r.duplicates), `${r.recoverySeconds.toFixed(1)} s`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
