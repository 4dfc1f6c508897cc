import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkText, type ChunkingOptions } from '../../../src/consumers/chunk/chunker.js';
import { approxTokenizer, countApproxTokens } from '../../../src/text/approx-tokenizer.js';
import { pageText, SECTIONS } from './samples.js';

const options = (overrides: Partial<ChunkingOptions> = {}): ChunkingOptions => ({ maxTokens: 256, overlapTokens: 32, maxChunksPerDocument: 200, ...overrides });
const chunk = (text: string, overrides: Partial<ChunkingOptions> = {}) => chunkText(text, approxTokenizer, options(overrides));
const texts = (text: string, overrides: Partial<ChunkingOptions> = {}) => chunk(text, overrides).chunks.map((c) => c.text);

describe('chunkText', () => {
  it('keeps a short text as one chunk, unchanged', () => {
    const text = '# Gift cards\n\nValid for three years.\n\n- Online\n- In our shops';
    expect(chunk(text)).toEqual({ chunks: [{ text, tokens: countApproxTokens(text) }], total: 1, truncated: false });
  });

  it('gives no chunks for empty text', () => {
    expect(chunk('')).toEqual({ chunks: [], total: 0, truncated: false });
  });

  describe('when the text has headings', () => {
    it('never puts two sections into one chunk, and starts each chunk with its section heading', () => {
      const result = texts(pageText());
      expect(result).toHaveLength(SECTIONS.length);
      SECTIONS.forEach(([heading], i) => {
        // The page title has no body of its own: it opens the first section.
        expect(result[i]!.startsWith(`${i === 0 ? '# Customer service\n' : ''}## ${heading}\n\n`)).toBe(true);
        expect(result[i]!.match(/^## /gm)).toHaveLength(1);
      });
    });

    it('keeps a heading without body of its own together with the next section', () => {
      expect(texts('# Help\n## Returns\n\nThirty days.\n\n## Refunds\n\nFive days.')).toEqual(['# Help\n## Returns\n\nThirty days.', '## Refunds\n\nFive days.']);
    });

    it('repeats a short heading at the start of every chunk of its section', () => {
      const body = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} tells how we pack fragile items with care.`).join('\n\n');
      const result = texts(`## Packing\n\n${body}`, { maxTokens: 40, overlapTokens: 0 });
      expect(result.length).toBeGreaterThan(3);
      for (const text of result) expect(text.startsWith('## Packing\n\nParagraph')).toBe(true);
    });
  });

  describe('when a section is larger than one chunk', () => {
    it('keeps paragraphs and list items whole when they fit', () => {
      const [, paragraphs] = SECTIONS[4]!;
      const result = texts(`## Returns\n\n${paragraphs.join('\n\n')}\n\n- Shoes in their box\n- Tags attached\n- Receipt enclosed`, { maxTokens: 150, overlapTokens: 0 });
      expect(result.length).toBeGreaterThan(1);
      const bodies = result.map((text) => text.replace('## Returns\n\n', ''));
      for (const item of ['- Shoes in their box', '- Tags attached', '- Receipt enclosed']) {
        expect(bodies.some((body) => body.split('\n').includes(item))).toBe(true);
      }
    });

    it('splits an over-long paragraph between sentences, not inside them', () => {
      const paragraph = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} ends here.`).join(' ');
      const result = texts(paragraph, { maxTokens: 50, overlapTokens: 0 });
      expect(result.length).toBeGreaterThan(3);
      for (const text of result) expect(text).toMatch(/^Sentence number \d+ ends here\.( Sentence number \d+ ends here\.)*$/);
    });

    it('splits a sentence longer than a chunk between words, and an over-long word into slices', () => {
      const sentence = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
      for (const text of texts(sentence, { maxTokens: 30, overlapTokens: 0 })) {
        expect(countApproxTokens(text)).toBeLessThanOrEqual(30);
        expect(text).toMatch(/^word\d+( word\d+)*$/);
      }
      const blob = 'x'.repeat(1000);
      const slices = texts(blob, { maxTokens: 30, overlapTokens: 0 });
      expect(slices.join('')).toBe(blob);
      for (const text of slices) expect(countApproxTokens(text)).toBeLessThanOrEqual(30);
    });
  });

  describe('overlap', () => {
    const paragraph = Array.from({ length: 24 }, (_, i) => `Step ${i} is short.`).join(' ');

    it('starts each chunk after the first with the tail of the previous one, in whole sentences', () => {
      const result = texts(paragraph, { maxTokens: 40, overlapTokens: 12 });
      expect(result.length).toBeGreaterThan(2);
      for (let i = 1; i < result.length; i++) {
        const sentences = result[i]!.match(/Step \d+ is short\./g)!;
        const repeated = [1, 2, 3].filter((k) => result[i - 1]!.endsWith(sentences.slice(0, k).join(' ')));
        expect(repeated.length, `chunk ${i} does not start with the end of chunk ${i - 1}`).toBeGreaterThan(0);
      }
    });

    it('repeats at most overlapTokens tokens', () => {
      const without = texts(paragraph, { maxTokens: 40, overlapTokens: 0 });
      const withOverlap = texts(paragraph, { maxTokens: 40, overlapTokens: 12 });
      const repeated = withOverlap.join(' ').split('. ').length - without.join(' ').split('. ').length;
      expect(repeated).toBeGreaterThan(0);
      // Each sentence costs 6 tokens, so at most 2 sentences are repeated per chunk boundary.
      expect(repeated).toBeLessThanOrEqual(2 * (withOverlap.length - 1));
    });

    it('never reaches into the previous section', () => {
      const text = `## Returns\n\n${paragraph}\n\n## Refunds\n\nRefunds take five days.`;
      const result = texts(text, { maxTokens: 40, overlapTokens: 12 });
      expect(result.at(-1)).toBe('## Refunds\n\nRefunds take five days.');
    });

    it('must be below maxTokens', () => {
      expect(() => chunk('text', { maxTokens: 32, overlapTokens: 32 })).toThrow(/overlapTokens/);
    });
  });

  describe('when the document has more chunks than the cap', () => {
    it('keeps the first maxChunksPerDocument and reports the total and truncation', () => {
      const result = chunk(pageText(), { maxChunksPerDocument: 4 });
      expect(result.chunks).toHaveLength(4);
      expect(result.total).toBe(SECTIONS.length);
      expect(result.truncated).toBe(true);
      expect(result.chunks.map((c) => c.text)).toEqual(texts(pageText()).slice(0, 4));
    });
  });

  it('gives the same chunks for the same text', () => {
    expect(chunk(pageText(), { maxTokens: 48 })).toEqual(chunk(pageText(), { maxTokens: 48 }));
  });

  it('never makes a chunk over maxTokens, whatever the text', () => {
    const word = fc.stringMatching(/^[A-Za-zé0-9]{1,30}$/);
    const sentence = fc.array(word, { minLength: 1, maxLength: 40 }).map((words) => `${words.join(' ')}.`);
    const paragraph = fc.array(sentence, { minLength: 1, maxLength: 8 }).map((s) => s.join(' '));
    const block = fc.oneof(paragraph, paragraph.map((p) => `## ${p.slice(0, 40)}`), fc.array(sentence, { minLength: 1, maxLength: 5 }).map((items) => items.map((i) => `- ${i}`).join('\n')));
    const text = fc.array(block, { minLength: 1, maxLength: 15 }).map((blocks) => blocks.join('\n\n'));
    fc.assert(
      fc.property(text, fc.integer({ min: 8, max: 120 }), fc.integer({ min: 0, max: 40 }), (input, maxTokens, overlap) => {
        const overlapTokens = Math.min(overlap, maxTokens - 1);
        const result = chunkText(input, approxTokenizer, options({ maxTokens, overlapTokens }));
        for (const c of result.chunks) {
          expect(countApproxTokens(c.text)).toBeLessThanOrEqual(maxTokens);
          expect(c.tokens).toBe(countApproxTokens(c.text));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('chunks a text of 5,000 chunks in linear time', () => {
    const paragraphs = Array.from({ length: 5000 }, (_, i) => `## Part ${i}\n\n${SECTIONS[i % SECTIONS.length]![1].join('\n\n')}`);
    const text = paragraphs.join('\n\n');
    const started = performance.now();
    const result = chunk(text, { maxTokens: 256, overlapTokens: 32, maxChunksPerDocument: 200 });
    const elapsed = performance.now() - started;
    expect(result.total).toBe(5000);
    expect(result.chunks).toHaveLength(200);
    expect(result.truncated).toBe(true);
    expect(elapsed).toBeLessThan(3000);
  });

  it('chunks one long section without headings of 5,000 chunks in linear time', () => {
    const paragraphs = SECTIONS.flatMap(([, p]) => p);
    const text = Array.from({ length: 4500 }, (_, i) => paragraphs[i % paragraphs.length]!).join('\n\n');
    const started = performance.now();
    const result = chunk(text, { maxTokens: 48, overlapTokens: 8, maxChunksPerDocument: 200 });
    const elapsed = performance.now() - started;
    expect(result.total).toBeGreaterThan(5000);
    expect(elapsed).toBeLessThan(3000);
  });
});
