import type { Config } from '../config/index.js';
import type { Embedder } from '../embedders/index.js';
import type { SearchHit, VectorStore } from '../stores/index.js';

export interface SearchOptions {
  tenant?: string;
  type?: string;
  store?: number;
  limit: number;
}

/** Embeds the query with the pipeline's embedder and asks the store; filters are exact matches. */
export async function searchIndex(embedder: Embedder, store: VectorStore, query: string, options: SearchOptions): Promise<SearchHit[]> {
  const [vector] = await embedder.embed([query]);
  return store.search({
    vector: vector!,
    limit: options.limit,
    ...(options.tenant ? { tenant: options.tenant } : {}),
    ...(options.type ? { docType: options.type } : {}),
    ...(options.store !== undefined ? { storeId: options.store } : {}),
  });
}

function excerpt(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** One block per hit: score, doc type, title, source key, and an excerpt of the chunk. */
export function formatHits(hits: SearchHit[], width = 100): string {
  if (hits.length === 0) return '  (no hits)';
  return hits
    .map((hit, i) => {
      const p = hit.payload;
      const type = p.doc_subtype ? `${p.doc_type}/${p.doc_subtype}` : p.doc_type;
      return `  ${String(i + 1).padStart(2)}. ${hit.score.toFixed(3)}  [${type}] ${p.title}\n      ${p.doc_key}  (${p.chunk_id})\n      ${excerpt(p.text, width)}`;
    })
    .join('\n');
}

export function storeDescription(config: Config): string {
  return config.store.qdrantUrl ? `Qdrant at ${config.store.qdrantUrl}, collection ${config.store.collection}` : `LanceDB at ${config.store.lancedbPath}, table ${config.store.collection}`;
}
