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

  /**
   * Synchronous form of {@link embed} for a single text.
   *
   * Every feature is a string (`w:<word>`, `b:<word> <next>`, `t:<three code points>`) hashed
   * with two seeds; the hashes are computed over the feature's UTF-16 code units as they are read
   * from the word, without building the feature strings (which cost more than the hashing).
   */
  embedOne(text: string): Float32Array {
    const sums = new Float64Array(this.dimension);
    const words = text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
    if (words.length === 0) this.add(sums, fnvString(BASIS_A, '\u0000empty'), fnvString(BASIS_B, '\u0000empty'), 1);
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      this.add(sums, fnvString(WORD_A, word), fnvString(WORD_B, word), 1);
      const next = words[i + 1];
      if (next !== undefined) {
        this.add(sums, fnvString(fnvStep(fnvString(BIGRAM_A, word), SPACE), next), fnvString(fnvStep(fnvString(BIGRAM_B, word), SPACE), next), BIGRAM_WEIGHT);
      }
      this.addTrigrams(sums, word);
    }
    return normalise(sums);
  }

  private add(sums: Float64Array, stateA: number, stateB: number, weight: number): void {
    const bucket = finalise(stateA) % this.dimension;
    const sign = finalise(stateB) & 1 ? 1 : -1;
    sums[bucket]! += sign * weight;
  }

  /** The character trigrams of `<word>`: every run of three code points, surrogate pairs kept whole. */
  private addTrigrams(sums: Float64Array, word: string): void {
    const n = word.length;
    let pairs = false;
    for (let i = 0; i < n; i++) {
      const unit = word.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdfff) {
        pairs = true;
        break;
      }
    }
    if (!pairs) {
      // One code unit per code point: trigram c is units c-1, c, c+1 of the word, '<' and '>' at the ends.
      const weight = Math.sqrt(TRIGRAM_ENERGY / n);
      for (let c = 0; c < n; c++) {
        const first = c === 0 ? LT : word.charCodeAt(c - 1);
        const second = word.charCodeAt(c);
        const third = c === n - 1 ? GT : word.charCodeAt(c + 1);
        this.add(sums, fnvStep(fnvStep(fnvStep(TRIGRAM_A, first), second), third), fnvStep(fnvStep(fnvStep(TRIGRAM_B, first), second), third), weight);
      }
      return;
    }
    // Code unit offsets where each code point starts (a high surrogate followed by a low one is one).
    const starts: number[] = [];
    for (let i = 0; i < n; i++) {
      starts.push(i);
      const unit = word.charCodeAt(i);
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < n) {
        const low = word.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) i += 1;
      }
    }
    const count = starts.length;
    const weight = Math.sqrt(TRIGRAM_ENERGY / count);
    // Code point p of `<word>`: 0 is '<', count + 1 is '>', the rest are the word's.
    const feed = (state: number, p: number): number => {
      if (p === 0) return fnvStep(state, LT);
      if (p === count + 1) return fnvStep(state, GT);
      const to = p < count ? starts[p]! : n;
      for (let u = starts[p - 1]!; u < to; u++) state = fnvStep(state, word.charCodeAt(u));
      return state;
    };
    for (let c = 0; c < count; c++) {
      let a = TRIGRAM_A;
      let b = TRIGRAM_B;
      for (let p = c; p < c + 3; p++) {
        a = feed(a, p);
        b = feed(b, p);
      }
      this.add(sums, a, b, weight);
    }
  }

  async close(): Promise<void> {}
}

function countTokens(text: string): number {
  return text.normalize('NFKC').match(TOKEN)?.length ?? 0;
}

function normalise(sums: Float64Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < sums.length; i++) norm += sums[i]! * sums[i]!;
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
  return finalise(fnvString((0x811c9dc5 ^ seed) >>> 0, text));
}

const SEED_A = 0x9747b28c;
const SEED_B = 0x5bd1e995;
const BASIS_A = (0x811c9dc5 ^ SEED_A) >>> 0;
const BASIS_B = (0x811c9dc5 ^ SEED_B) >>> 0;
const SPACE = 0x20;
const LT = 0x3c;
const GT = 0x3e;
/** FNV states after each feature's prefix, for the bucket (A) and the sign (B) hash. */
const WORD_A = fnvString(BASIS_A, 'w:');
const WORD_B = fnvString(BASIS_B, 'w:');
const BIGRAM_A = fnvString(BASIS_A, 'b:');
const BIGRAM_B = fnvString(BASIS_B, 'b:');
const TRIGRAM_A = fnvString(BASIS_A, 't:');
const TRIGRAM_B = fnvString(BASIS_B, 't:');

function fnvStep(h: number, unit: number): number {
  return Math.imul(h ^ unit, 0x01000193);
}

function fnvString(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

function finalise(state: number): number {
  let h = state;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
