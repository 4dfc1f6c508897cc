import type { Config } from '../config/index.js';
import type { Embedder } from '../embedders/index.js';
import { groupByDocument, type DocumentHit, type SearchMode, type VectorStore } from '../stores/index.js';

export interface SearchOptions {
  tenant?: string;
  type?: string;
  store?: number;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  stock?: string;
  /** @defaultValue hybrid (the default of config `search.mode`) */
  mode?: SearchMode;
  /** Documents returned at most. */
  limit: number;
  /** Chunks retrieved to rank documents from. @defaultValue 4 × limit, at least 20 */
  chunks?: number;
}

/**
 * Asks the store for the query's best chunks (the query embedded with the pipeline's embedder
 * unless the mode is lexical) and groups them by document: one hit per document, its best chunk
 * first and the other chunks that matched attached. Filters are exact matches, the price a range.
 */
export async function searchIndex(embedder: Embedder, store: VectorStore, query: string, options: SearchOptions): Promise<DocumentHit[]> {
  const mode = options.mode ?? 'hybrid';
  const vector = mode === 'lexical' ? undefined : (await embedder.embed([`${embedder.queryPrefix ?? ''}${query}`]))[0];
  const hits = await store.search({
    mode,
    text: query,
    ...(vector === undefined ? {} : { vector }),
    limit: options.chunks ?? Math.max(20, options.limit * 4),
    ...(options.tenant ? { tenant: options.tenant } : {}),
    ...(options.type ? { docType: options.type } : {}),
    ...(options.store !== undefined ? { storeId: options.store } : {}),
    ...(options.category ? { category: options.category } : {}),
    ...(options.minPrice !== undefined ? { minPrice: options.minPrice } : {}),
    ...(options.maxPrice !== undefined ? { maxPrice: options.maxPrice } : {}),
    ...(options.stock ? { stockStatus: options.stock } : {}),
  });
  return groupByDocument(hits, options.limit);
}

function excerpt(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** One block per document: score, doc type, title, key, an excerpt of its best chunk, and how many more chunks matched. */
export function formatHits(hits: DocumentHit[], width = 100): string {
  if (hits.length === 0) return '  (no hits)';
  return hits
    .map((hit, i) => {
      const p = hit.payload;
      const type = p.doc_subtype ? `${p.doc_type}/${p.doc_subtype}` : p.doc_type;
      const more = hit.others.length === 0 ? '' : `, ${hit.others.length} more matching chunk(s): ${hit.others.map((o) => `#${o.payload.chunk_index}`).join(' ')}`;
      return `  ${String(i + 1).padStart(2)}. ${hit.score.toFixed(3)}  [${type}] ${p.title}\n      ${p.doc_key}  (${p.chunk_id}${more})\n      ${excerpt(p.text, width)}`;
    })
    .join('\n');
}

/** A document hit as `search --json` prints it: the best chunk's fields, and the other chunks. */
export function hitJson(hit: DocumentHit): Record<string, unknown> {
  return {
    id: hit.id,
    score: hit.score,
    ...hit.payload,
    other_chunks: hit.others.map((o) => ({ id: o.id, score: o.score, chunk_id: o.payload.chunk_id, chunk_index: o.payload.chunk_index, text: o.payload.text })),
  };
}

export function storeDescription(config: Config): string {
  return config.store.qdrantUrl ? `Qdrant at ${config.store.qdrantUrl}, collection ${config.store.collection}` : `LanceDB at ${config.store.lancedbPath}, table ${config.store.collection}`;
}
