import type { SearchHit } from './vector-store.js';

/**
 * One document of a search: its best-ranked chunk (id, score and payload, as a chunk hit has
 * them) and the document's other matching chunks, in rank order.
 */
export interface DocumentHit extends SearchHit {
  others: SearchHit[];
}

/**
 * Chunk hits grouped by document, in the order of each document's best-ranked chunk: a document
 * whose chunks match several times is one hit, ranked where its first chunk ranks. The store
 * returns chunks best first in every mode, so rank order is the order of `hits`. At most `limit`
 * documents; the chunks of those documents further down are still attached.
 */
export function groupByDocument(hits: readonly SearchHit[], limit = Number.POSITIVE_INFINITY): DocumentHit[] {
  const byDoc = new Map<string, DocumentHit>();
  for (const hit of hits) {
    const found = byDoc.get(hit.payload.doc_key);
    if (found !== undefined) found.others.push(hit);
    else if (byDoc.size < limit) byDoc.set(hit.payload.doc_key, { ...hit, others: [] });
  }
  return [...byDoc.values()];
}
