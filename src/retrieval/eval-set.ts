/**
 * An evaluation set: one JSON object per line, `{"query": "…", "expect": ["<doc key>", …]}`, with
 * optional `"tags": ["typo", …]` to break the figures down. `expect` lists the documents that
 * answer the query; finding any one of them counts. Blank lines are skipped.
 */
export interface EvalQuery {
  query: string;
  /** Document keys (`tenant/entity_type/entity_id/store_id`, as the index holds them). */
  expect: string[];
  tags: string[];
}

export class EvalSetError extends Error {
  override readonly name = 'EvalSetError';
}

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string' && item.trim().length > 0);

/** Parses the text of an evaluation set; throws an EvalSetError naming the first bad line. */
export function parseEvalSet(text: string, source = 'evaluation set'): EvalQuery[] {
  const queries: EvalQuery[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line.length === 0) return;
    const where = `${source} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new EvalSetError(`${where}: not JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EvalSetError(`${where}: expected an object with "query" and "expect"`);
    const { query, expect, tags } = value as Record<string, unknown>;
    if (typeof query !== 'string' || query.trim().length === 0) throw new EvalSetError(`${where}: "query" must be a non-empty string`);
    if (!isStringList(expect) || expect.length === 0) throw new EvalSetError(`${where}: "expect" must be a non-empty list of document keys`);
    if (tags !== undefined && !isStringList(tags)) throw new EvalSetError(`${where}: "tags" must be a list of strings`);
    queries.push({ query: query.trim(), expect: [...expect], tags: tags ? [...tags] : [] });
  });
  if (queries.length === 0) throw new EvalSetError(`${source}: no queries`);
  return queries;
}
