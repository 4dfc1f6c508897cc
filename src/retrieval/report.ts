import type { EvalReport, Figures, QueryResult } from './metrics.js';

const fixed = (n: number) => n.toFixed(3);

function figureRow(label: string, f: Figures, width: number): string {
  return `  ${label.padEnd(width)}  ${String(f.queries).padStart(7)}  ${fixed(f.recallAt1).padStart(8)}  ${fixed(f.recallAt5).padStart(8)}  ${fixed(f.mrr).padStart(5)}`;
}

function describeMiss(miss: QueryResult, titles: ReadonlyMap<string, string>): string {
  const first = miss.ranked[0];
  const firstText = first === undefined ? 'nothing' : `${first}${titles.has(first) ? ` (${titles.get(first)})` : ''}`;
  const where = miss.rank === null ? `not in the first ${miss.ranked.length} documents` : `rank ${miss.rank}`;
  return `  "${miss.query}"${miss.tags.length > 0 ? `  [${miss.tags.join(', ')}]` : ''}\n      expected ${miss.expect.join(' or ')}: ${where}\n      first: ${firstText}`;
}

/**
 * The report as text: the three figures, a table per tag when the set has tags, then every query
 * whose first document was not an expected one. `titles` names the documents of the hits.
 */
export function formatReport(report: EvalReport, titles: ReadonlyMap<string, string> = new Map()): string {
  const lines = [`recall@1 ${fixed(report.recallAt1)}   recall@5 ${fixed(report.recallAt5)}   MRR ${fixed(report.mrr)}   (${report.queries} queries)`];
  const tags = Object.entries(report.byTag);
  if (tags.length > 0) {
    const width = Math.max(3, ...tags.map(([tag]) => tag.length));
    lines.push('', `  ${'tag'.padEnd(width)}  queries  recall@1  recall@5    MRR`);
    for (const [tag, f] of tags) lines.push(figureRow(tag, f, width));
  }
  lines.push('', report.misses.length === 0 ? 'no misses: every query found an expected document first' : `misses (${report.misses.length}):`);
  for (const miss of report.misses) lines.push(describeMiss(miss, titles));
  return lines.join('\n');
}

/** The report as a JSON-ready object, snake_case like the rest of the command line's JSON. */
export function reportJson(report: EvalReport): Record<string, unknown> {
  const f = (x: Figures) => ({ queries: x.queries, recall_at_1: x.recallAt1, recall_at_5: x.recallAt5, mrr: x.mrr });
  return {
    ...f(report),
    by_tag: Object.fromEntries(Object.entries(report.byTag).map(([tag, x]) => [tag, f(x)])),
    results: report.results.map((r) => ({ query: r.query, expect: r.expect, tags: r.tags, rank: r.rank, first: r.ranked[0] ?? null, ranked: r.ranked.slice(0, 5) })),
    misses: report.misses.map((r) => r.query),
  };
}
