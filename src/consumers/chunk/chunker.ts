import type { Tokenizer } from '../../text/tokenizer.js';
import { packSection, type PackedChunk } from './pack.js';
import { splitSections } from './sections.js';

/**
 * Text → chunks, token-aware and structure-first (docs/design.md §3, chunk):
 * 1. sections: split on heading lines (`# …`);
 * 2. within a section: paragraphs, then lines (list items, table rows), then sentences, then words,
 *    then slices of an over-long word, only as far down as needed to fit `maxTokens`;
 * 3. pieces are packed greedily per section, with an overlap of up to `overlapTokens` from the
 *    previous chunk of the same section (see packSection).
 *
 * Deterministic (same text and tokenizer → same chunks) and linear in the text length. Edits stay
 * local: sections are packed independently, so editing a section changes only chunks of that
 * section; inside a section longer than one chunk, content-defined anchors bring the boundaries
 * back into step shortly after the edit (see packSection), so the rest of the section keeps its
 * chunks and their hashes, and the embed stage's cache keeps their vectors.
 */
export interface ChunkingOptions {
  /** Upper bound of a chunk's tokens, by the tokenizer's count. */
  maxTokens: number;
  /** Tokens of the previous chunk repeated at the start of the next one (same section only). */
  overlapTokens: number;
  /** Chunks kept per document; the rest are dropped and the result says so. */
  maxChunksPerDocument: number;
}

export interface ChunkingResult {
  chunks: PackedChunk[];
  /** Chunks the text would have without the cap. */
  total: number;
  truncated: boolean;
}

export function chunkText(text: string, tokenizer: Tokenizer, options: ChunkingOptions): ChunkingResult {
  if (options.overlapTokens >= options.maxTokens) {
    throw new RangeError(`chunking: overlapTokens (${options.overlapTokens}) must be below maxTokens (${options.maxTokens})`);
  }
  const all: PackedChunk[] = [];
  for (const section of splitSections(text)) {
    for (const chunk of packSection(section, tokenizer, options)) all.push(chunk);
  }
  const truncated = all.length > options.maxChunksPerDocument;
  return { chunks: truncated ? all.slice(0, options.maxChunksPerDocument) : all, total: all.length, truncated };
}
