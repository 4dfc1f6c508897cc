import type { SearchMode, SearchQuery } from './vector-store.js';

/** A search with what its mode needs, checked: dense needs a vector, lexical text, hybrid both. */
export type SearchPlan =
  | { mode: 'dense'; vector: ArrayLike<number> }
  | { mode: 'lexical'; text: string }
  | { mode: 'hybrid'; vector: ArrayLike<number>; text: string };

/** The query's mode (`dense` when only a vector is given, else `hybrid`) with its inputs; a missing input is a TypeError. */
export function searchPlan(query: SearchQuery): SearchPlan {
  const mode: SearchMode = query.mode ?? (query.text === undefined ? 'dense' : 'hybrid');
  const text = query.text?.trim();
  if (mode !== 'dense' && (text === undefined || text === '')) throw new TypeError(`a ${mode} search needs the query's text`);
  if (mode !== 'lexical' && query.vector === undefined) throw new TypeError(`a ${mode} search needs the query's vector`);
  if (mode === 'dense') return { mode, vector: query.vector! };
  if (mode === 'lexical') return { mode, text: text! };
  return { mode, vector: query.vector!, text: text! };
}
