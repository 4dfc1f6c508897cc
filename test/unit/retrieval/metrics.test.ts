import { describe, expect, it } from 'vitest';
import { evaluate, scoreQuery } from '../../../src/retrieval/metrics.js';
import { formatReport, reportJson } from '../../../src/retrieval/report.js';

const query = (text: string, expect: string[], tags: string[] = []) => ({ query: text, expect, tags });

describe('ranking a query', () => {
  it('ranks a query by its first expected document, any of several', () => {
    expect(scoreQuery(query('q', ['d/returns', 'd/footer']), ['d/faq', 'd/footer', 'd/returns']).rank).toBe(2);
    expect(scoreQuery(query('q', ['d/returns']), ['d/faq', 'd/terms']).rank).toBeNull();
  });
});

describe('the figures of an evaluation', () => {
  const results = [
    scoreQuery(query('first', ['a'], ['typo']), ['a', 'b']),
    scoreQuery(query('second', ['a'], ['typo', 'table']), ['b', 'a']),
    scoreQuery(query('fifth', ['e']), ['a', 'b', 'c', 'd', 'e', 'f']),
    scoreQuery(query('sixth', ['f'], ['table']), ['a', 'b', 'c', 'd', 'e', 'f']),
    scoreQuery(query('missing', ['z']), ['a']),
  ];
  const report = evaluate(results);

  it('are recall@1, recall@5 and MRR over every query', () => {
    expect(report.queries).toBe(5);
    expect(report.recallAt1).toBeCloseTo(1 / 5);
    expect(report.recallAt5).toBeCloseTo(3 / 5);
    expect(report.mrr).toBeCloseTo((1 + 1 / 2 + 1 / 5 + 1 / 6 + 0) / 5);
  });

  it('are broken down by tag', () => {
    expect(Object.keys(report.byTag)).toEqual(['table', 'typo']);
    expect(report.byTag.typo).toEqual({ queries: 2, recallAt1: 0.5, recallAt5: 1, mrr: 0.75 });
    expect(report.byTag.table!.mrr).toBeCloseTo((1 / 2 + 1 / 6) / 2);
  });

  it('list every query whose first document was not an expected one as a miss', () => {
    expect(report.misses.map((m) => m.query)).toEqual(['second', 'fifth', 'sixth', 'missing']);
  });

  it('print the figures, the tags and each miss with what was expected and what came first', () => {
    const text = formatReport(report, new Map([['b', 'Trailhead 35 L daypack']]));
    expect(text).toContain('recall@1 0.200   recall@5 0.600   MRR 0.373   (5 queries)');
    expect(text).toMatch(/ {2}typo +2 +0\.500 +1\.000 +0\.750/);
    expect(text).toContain('  "second"  [typo, table]\n      expected a: rank 2\n      first: b (Trailhead 35 L daypack)');
    expect(text).toContain('  "missing"\n      expected z: not in the first 1 documents\n      first: a');
  });

  it('say so when nothing was missed', () => {
    expect(formatReport(evaluate([results[0]!]))).toContain('no misses');
  });

  it('go to JSON with snake_case names and each query with its rank and first document', () => {
    const json = reportJson(report) as { recall_at_5: number; results: Array<{ query: string; rank: number | null; first: string | null }>; misses: string[] };
    expect(json.recall_at_5).toBeCloseTo(0.6);
    expect(json.results[1]).toMatchObject({ query: 'second', rank: 2, first: 'b' });
    expect(json.results[4]).toMatchObject({ query: 'missing', rank: null, first: 'a' });
    expect(json.misses).toEqual(['second', 'fifth', 'sixth', 'missing']);
  });
});
