import type { EvalQuery } from './eval-set.js';

/** One query's outcome: the documents in the order retrieval ranked them. */
export interface QueryResult extends EvalQuery {
  /** Distinct document keys, best first (a document ranks where its best chunk ranks: src/stores/group-hits.ts). */
  ranked: string[];
  /** 1-based rank of the first expected document; null when none was retrieved. */
  rank: number | null;
}

export interface Figures {
  queries: number;
  /** Share of queries whose first document is an expected one. */
  recallAt1: number;
  /** Share of queries with an expected document among the first five. */
  recallAt5: number;
  /** Mean of 1/rank of the first expected document (0 when none was retrieved). */
  mrr: number;
}

export interface EvalReport extends Figures {
  byTag: Record<string, Figures>;
  results: QueryResult[];
  /** Queries whose first document is not an expected one, in the set's order. */
  misses: QueryResult[];
}

export function scoreQuery(query: EvalQuery, ranked: string[]): QueryResult {
  const expected = new Set(query.expect);
  const at = ranked.findIndex((key) => expected.has(key));
  return { ...query, ranked, rank: at < 0 ? null : at + 1 };
}

function figures(results: readonly QueryResult[]): Figures {
  const n = results.length;
  const share = (found: (r: QueryResult) => boolean) => (n === 0 ? 0 : results.filter(found).length / n);
  return {
    queries: n,
    recallAt1: share((r) => r.rank === 1),
    recallAt5: share((r) => r.rank !== null && r.rank <= 5),
    mrr: n === 0 ? 0 : results.reduce((sum, r) => sum + (r.rank === null ? 0 : 1 / r.rank), 0) / n,
  };
}

/** recall@1, recall@5 and MRR over all queries and per tag, and the misses. */
export function evaluate(results: QueryResult[]): EvalReport {
  const tags = [...new Set(results.flatMap((r) => r.tags))].sort();
  return {
    ...figures(results),
    byTag: Object.fromEntries(tags.map((tag) => [tag, figures(results.filter((r) => r.tags.includes(tag)))])),
    results,
    misses: results.filter((r) => r.rank !== 1),
  };
}
