import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { HashingEmbedder, hash32 } from '../../../src/embedders/hashing.js';
import { cosine } from '../../../src/embedders/similarity-check.js';
import { vectorToBytes } from '../../../src/core/vector-bytes.js';

/**
 * The features of `hashing-v1` written out plainly, as strings hashed whole: the embedder computes
 * the same hashes without building the strings, and must give exactly these vectors.
 */
function referenceVector(text: string, dimension = 384): Float32Array {
  const sums = new Float64Array(dimension);
  const add = (feature: string, weight: number): void => {
    const bucket = hash32(feature, 0x9747b28c) % dimension;
    const sign = hash32(feature, 0x5bd1e995) & 1 ? 1 : -1;
    sums[bucket]! += sign * weight;
  };
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
  if (words.length === 0) add('\u0000empty', 1);
  words.forEach((word, i) => {
    add(`w:${word}`, 1);
    const next = words[i + 1];
    if (next !== undefined) add(`b:${word} ${next}`, 0.5);
    const chars = Array.from(`<${word}>`);
    const count = chars.length - 2;
    for (let c = 0; c < count; c++) add(`t:${chars[c]}${chars[c + 1]}${chars[c + 2]}`, Math.sqrt(0.5 / count));
  });
  let norm = 0;
  for (const v of sums) norm += v * v;
  norm = Math.sqrt(norm);
  return Float32Array.from(sums, (v) => (norm === 0 ? 0 : v / norm));
}

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('the hashing embedder', () => {
  const embedder = new HashingEmbedder();

  it('names itself lexical, cosine, 384 dimensions, with the version and size in its id', () => {
    expect(embedder).toMatchObject({ id: 'hashing-v1-384', dimension: 384, distance: 'Cosine', kind: 'lexical' });
    expect(new HashingEmbedder({ dimension: 64 }).id).toBe('hashing-v1-64');
  });

  it('gives the same bytes on every machine and run', () => {
    // Pinned: vectors cached or stored under `hashing-v1-*` must never change. A change of
    // features or hash needs a new id version, and then a new pin.
    const bytes = vectorToBytes(embedder.embedOne('Waterproof hiking boots, size 42 — Größe 42'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('d8d7f946cfcd38289787510397cae1788a3d8e1db7970531bf85c3fb6e6ba7fb');
  });

  it('gives exactly the vectors of its features hashed as strings, surrogate pairs included', () => {
    const texts = [
      'Waterproof hiking boots, size 42',
      'a',
      'ab cd',
      '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🥾🥾 boots',
      '𠀋𠀌 mixed 𠀍x',
      'emoji🥾inside a word',
      'Größe ÄÖÜ ﬁne',
      '',
      '夏の綿ワンピース',
    ];
    for (const text of texts) expect(Array.from(embedder.embedOne(text)), text).toEqual(Array.from(referenceVector(text)));
    const small = new HashingEmbedder({ dimension: 7 });
    for (const text of texts) expect(Array.from(small.embedOne(text)), text).toEqual(Array.from(referenceVector(text, 7)));
  });

  it('returns one L2-normalised vector per text, in order', async () => {
    const texts = ['first text', 'a second, longer text about something else', 'x'];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    for (const [i, v] of vectors.entries()) {
      expect(v).toHaveLength(384);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(Array.from(v)).toEqual(Array.from(embedder.embedOne(texts[i]!)));
    }
  });

  it('scores texts that share words above texts that share none', () => {
    const query = embedder.embedOne('waterproof boots for hiking');
    const shared = cosine(query, embedder.embedOne('Waterproof hiking boots with a rubber sole'));
    const partial = cosine(query, embedder.embedOne('waterproofing spray for boot leather'));
    const none = cosine(query, embedder.embedOne('A cotton summer dress in blue'));
    expect(shared).toBeGreaterThan(partial);
    expect(partial).toBeGreaterThan(none);
    expect(Math.abs(none)).toBeLessThan(0.15);
  });

  it('ignores case, Unicode normal form and punctuation', () => {
    const a = embedder.embedOne('CAFÉ crème, déjà-vu!');
    const b = embedder.embedOne('cafe\u0301 cre\u0300me déjà vu');
    expect(cosine(a, b)).toBeCloseTo(1, 6);
  });

  it('handles scripts without spaces through character trigrams', () => {
    const a = embedder.embedOne('防水登山靴');
    const b = embedder.embedOne('防水登山靴とソックス');
    const other = embedder.embedOne('夏の綿ワンピース');
    expect(cosine(a, b)).toBeGreaterThan(0.15);
    expect(Math.abs(cosine(a, other))).toBeLessThan(0.1);
  });

  it('gives empty text a unit vector rather than zeros', () => {
    expect(norm(embedder.embedOne(''))).toBeCloseTo(1, 6);
    expect(norm(embedder.embedOne('  ,;  '))).toBeCloseTo(1, 6);
  });

  it('counts words and punctuation as tokens', () => {
    expect(embedder.tokenizer.count('Hello, wide world!')).toBe(5);
    expect(embedder.tokenizer.count('')).toBe(0);
  });

  it('refuses a dimension that is not a positive integer', () => {
    expect(() => new HashingEmbedder({ dimension: 0 })).toThrow(ConfigError);
    expect(() => new HashingEmbedder({ dimension: 3.5 })).toThrow(/EMBEDDING_DIMENSIONS/);
  });
});
