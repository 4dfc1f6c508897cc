import { ConfigError } from '../core/errors.js';
import type { Embedder, EmbedderTokenizer } from './embedder.js';

export interface HashingEmbedderOptions {
  /**
   * Buckets, i.e. values per vector.
   * @defaultValue 384 (the size of all-MiniLM-L6-v2, so a store can switch without a new layout)
   */
  dimension?: number;
}

/** Word features weigh 1; a word's bigram with its neighbour 0.5; its character trigrams 0.5 in all. */
const BIGRAM_WEIGHT = 0.5;
const TRIGRAM_ENERGY = 0.5;
const WORD = /[\p{L}\p{M}\p{N}]+/gu;
const TOKEN = /[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu;

/**
 * A lexical embedder by feature hashing: no model, no I/O, the same vector for the same text on
 * every machine and run. Cosine similarity of two vectors reflects the words they share (with
 * character trigrams, inflections and typos still share some weight). Used in tests and as the
 * fallback when no model is configured; it does not understand synonyms.
 *
 * Text is NFKC-normalised and lower-cased (locale-independent), split into Unicode letter/digit
 * runs; each feature is hashed into a bucket with a hashed sign (signed hashing keeps collisions
 * from adding up), and the vector is L2-normalised. Empty text gets a fixed unit vector.
 */
export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  readonly distance = 'Cosine' as const;
  readonly kind = 'lexical' as const;
  readonly tokenizer: EmbedderTokenizer = { id: 'unicode-words-v1', count: countTokens };

  constructor(options: HashingEmbedderOptions = {}) {
    const dimension = options.dimension ?? 384;
    if (!Number.isInteger(dimension) || dimension < 2 || dimension > 65_536) {
      throw new ConfigError(`EMBEDDING_DIMENSIONS (embedder.dimensions): the hashing embedder needs an integer from 2 to 65536, got ${dimension}`);
    }
    this.dimension = dimension;
    // The version is part of the id: a change of features or hash must change it, or cached
    // vectors of the old scheme would mix with new ones.
    this.id = `hashing-v1-${dimension}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text));
  }

  /** Synchronous form of {@link embed} for a single text. */
  embedOne(text: string): Float32Array {
    const sums = new Float64Array(this.dimension);
    const add = (feature: string, weight: number): void => {
      const bucket = hash32(feature, 0x9747b28c) % this.dimension;
      const sign = hash32(feature, 0x5bd1e995) & 1 ? 1 : -1;
      sums[bucket]! += sign * weight;
    };
    const words = text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
    if (words.length === 0) add('\u0000empty', 1);
    words.forEach((word, i) => {
      add(`w:${word}`, 1);
      const next = words[i + 1];
      if (next !== undefined) add(`b:${word} ${next}`, BIGRAM_WEIGHT);
      const chars = Array.from(`<${word}>`);
      const count = chars.length - 2;
      const weight = Math.sqrt(TRIGRAM_ENERGY / count);
      for (let c = 0; c < count; c++) add(`t:${chars[c]}${chars[c + 1]}${chars[c + 2]}`, weight);
    });
    return normalise(sums);
  }

  async close(): Promise<void> {}
}

function countTokens(text: string): number {
  return text.normalize('NFKC').match(TOKEN)?.length ?? 0;
}

function normalise(sums: Float64Array): Float32Array {
  let norm = 0;
  for (const v of sums) norm += v * v;
  norm = Math.sqrt(norm);
  const out = new Float32Array(sums.length);
  // Signed buckets can cancel out exactly; a zero vector stays zero rather than dividing by 0.
  if (norm === 0) return out;
  for (let i = 0; i < sums.length; i++) out[i] = sums[i]! / norm;
  return out;
}

/**
 * FNV-1a over UTF-16 code units, then MurmurHash3's 32-bit finaliser for avalanche. Pure integer
 * arithmetic, so the result is the same on every platform. Unsigned.
 */
export function hash32(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
