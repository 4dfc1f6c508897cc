import type { Embedder } from './embedder.js';

/** A question, a passage that answers it in other words, and a passage about something else. */
export const SIMILARITY_PROBE = {
  query: 'How do I return an item?',
  related: 'Unused goods can be sent back within 30 days of delivery for a full refund.',
  unrelated: 'A light 14-inch laptop with 16 GB of memory and an all-day battery.',
} as const;

export interface SimilarityCheck {
  related: number;
  unrelated: number;
  /** Largest deviation of a vector's L2 norm from 1. */
  normError: number;
  /** The related passage is closer to the query than the unrelated one. */
  ordered: boolean;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Embeds {@link SIMILARITY_PROBE} and compares: a semantic model ranks the returns-policy passage
 * above the laptop although they share no content word with the question. (The hashing embedder
 * cannot tell them apart: that is what "lexical" means.)
 */
export async function checkSimilarity(embedder: Embedder): Promise<SimilarityCheck> {
  const [query, related, unrelated] = await embedder.embed([SIMILARITY_PROBE.query, SIMILARITY_PROBE.related, SIMILARITY_PROBE.unrelated]);
  const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const result = {
    related: cosine(query!, related!),
    unrelated: cosine(query!, unrelated!),
    normError: Math.max(...[query!, related!, unrelated!].map((v) => Math.abs(norm(v) - 1))),
  };
  return { ...result, ordered: result.related > result.unrelated };
}
