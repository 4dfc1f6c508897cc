import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkText } from '../../../src/consumers/chunk/chunker.js';
import { toChunkSet } from '../../../src/consumers/chunk/chunk-stage.js';
import { approxTokenizer } from '../../../src/text/approx-tokenizer.js';
import type { Tokenizer } from '../../../src/text/tokenizer.js';
import { document, pageText, SECTIONS } from './samples.js';

const OPTIONS = { maxTokens: 256, overlapTokens: 32, maxChunksPerDocument: 200 };

function hashes(text: string, options = OPTIONS): string[] {
  return toChunkSet(document(text), approxTokenizer, options).chunks.map((chunk) => chunk.hash);
}

function editSection(index: number, edit: (paragraphs: string[]) => string[]): typeof SECTIONS {
  return SECTIONS.map(([heading, paragraphs], i) => [heading, i === index ? edit(paragraphs) : paragraphs]);
}

describe('when one paragraph in the middle of a long page is edited', () => {
  it('changes exactly one chunk hash: the chunk of the edited section', () => {
    const before = hashes(pageText());
    const sectionFive = 4;
    const after = hashes(
      pageText(editSection(sectionFive, (paragraphs) => [paragraphs[0]!, paragraphs[1]!.replace('Print the free label, pack the items securely', 'Print the prepaid label, wrap fragile items in paper')])),
    );
    expect(after).toHaveLength(before.length);
    const changed = before.map((hash, i) => (hash === after[i] ? -1 : i)).filter((i) => i >= 0);
    expect(changed).toEqual([sectionFive]);
  });

  it('changes only the chunks of the edited section when that section spans several chunks', () => {
    // Small chunks, so every section is several chunks long and the edit makes its section longer.
    const options = { maxTokens: 48, overlapTokens: 12, maxChunksPerDocument: 500 };
    const chunksOf = (text: string) => chunkText(text, approxTokenizer, options).chunks.map((c) => c.text);
    const before = chunksOf(pageText());
    const after = chunksOf(pageText(editSection(4, (p) => [p[0]!.replace('thirty days', 'forty-five days, or sixty days for members of our loyalty club,'), p[1]!])));
    const inSection = (text: string, heading: string) => text.includes(`## ${heading}\n`);
    for (const [heading] of SECTIONS.filter((_, i) => i !== 4)) {
      expect(after.filter((t) => inSection(t, heading))).toEqual(before.filter((t) => inSection(t, heading)));
    }
    expect(after.filter((t) => inSection(t, 'Returns'))).not.toEqual(before.filter((t) => inSection(t, 'Returns')));
  });

  it('never changes the chunks of other sections, whatever the edit and the chunk size', () => {
    const sentence = fc.stringMatching(/^[A-Za-z ,]{1,120}$/).map((s) => `${s.trim() || 'Edited'}.`);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SECTIONS.length - 1 }), sentence, fc.integer({ min: 24, max: 160 }), (index, inserted, maxTokens) => {
        const options = { maxTokens, overlapTokens: Math.floor(maxTokens / 5), maxChunksPerDocument: 1000 };
        const chunksOf = (text: string) => chunkText(text, approxTokenizer, options).chunks.map((c) => c.text);
        const before = chunksOf(pageText());
        const after = chunksOf(pageText(editSection(index, (p) => [...p.slice(0, -1), `${p.at(-1)!} ${inserted}`])));
        const [editedHeading] = SECTIONS[index]!;
        for (const [heading] of SECTIONS) {
          if (heading === editedHeading) continue;
          const own = (t: string) => t.includes(`## ${heading}\n`);
          expect(after.filter(own)).toEqual(before.filter(own));
        }
      }),
      { numRuns: 60 },
    );
  });

  describe('when the page has no headings at all', () => {
    // Counted in words, so the test measures the packing, not the tokenizer.
    const words: Tokenizer = { id: 'words', count: (text) => text.split(/\s+/).filter(Boolean).length };
    const paragraphs = SECTIONS.flatMap(([, p]) => p);
    const page = Array.from({ length: 120 }, (_, i) => `${paragraphs[i % paragraphs.length]!} (Note ${i}.)`);
    const added = 'Please keep your receipt and the original packaging until the return has been fully processed by our team.';

    // An edit changes at least the chunk holding it and, through the overlap, often the next one.
    // Greedy packing alone changes up to 6, 10 and 14 chunks for one such edit on this page.
    it.each([128, 200, 256])('changes at most five chunks, about two on average, for a sentence added to any paragraph (maxTokens %i)', (maxTokens) => {
      const options = { maxTokens, overlapTokens: Math.floor(maxTokens / 8), maxChunksPerDocument: 1000 };
      const before = new Set(chunkText(page.join('\n\n'), words, options).chunks.map((c) => c.text));
      expect(before.size).toBeGreaterThan(15);
      const changes = page.map((_, j) => {
        const edited = page.map((p, i) => (i === j ? `${p} ${added}` : p));
        const after = chunkText(edited.join('\n\n'), words, options).chunks.map((c) => c.text);
        return after.filter((text) => !before.has(text)).length;
      });
      expect(Math.max(...changes)).toBeLessThanOrEqual(5);
      expect(changes.reduce((sum, n) => sum + n, 0) / changes.length).toBeLessThanOrEqual(2.2);
    });
  });
});
