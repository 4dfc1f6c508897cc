import type { Tokenizer } from '../../text/tokenizer.js';

/**
 * A piece is the smallest unit the packer moves: a paragraph, a list item, a sentence, a word, or
 * a slice of an over-long word, whichever is the largest structure that fits the budget.
 */
export interface Piece {
  text: string;
  tokens: number;
  /** What joins this piece to the one before it in a chunk. */
  sep: string;
  /** A section heading, repeated at the start of every chunk of its section. */
  heading?: boolean;
}

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

export function splitSentences(text: string): string[] {
  return Array.from(sentenceSegmenter.segment(text), (segment) => segment.segment);
}

interface Level {
  split(text: string): string[];
  sep: string;
}

// Structure first: paragraphs (blank line), then lines (list items, table rows), then sentences,
// then words. Over-long words are sliced last (see sliceToFit).
const LEVELS: Level[] = [
  { split: (text) => text.split(/\n{2,}/), sep: '\n\n' },
  { split: (text) => text.split('\n'), sep: '\n' },
  { split: splitSentences, sep: ' ' },
  { split: (text) => text.split(/\s+/), sep: ' ' },
];

/** Slices a text with no whitespace into parts of at most `budget` tokens, by code points. */
function sliceToFit(text: string, tokenizer: Tokenizer, budget: number, sep: string, out: Piece[]): void {
  const chars = Array.from(text);
  // One estimate of characters per slice for the whole text keeps this linear; each slice is then
  // checked, and shortened while it is over budget (a tokenizer may count unevenly).
  const perSlice = Math.max(1, Math.floor((chars.length * budget) / Math.max(1, tokenizer.count(text))));
  let start = 0;
  let first = true;
  while (start < chars.length) {
    let length = Math.min(perSlice, chars.length - start);
    let slice = chars.slice(start, start + length).join('');
    let tokens = tokenizer.count(slice);
    while (tokens > budget && length > 1) {
      length = Math.max(1, Math.floor(length * 0.9));
      slice = chars.slice(start, start + length).join('');
      tokens = tokenizer.count(slice);
    }
    out.push({ text: slice, tokens, sep: first ? sep : '' });
    first = false;
    start += length;
  }
}

function collect(text: string, level: number, sep: string, tokenizer: Tokenizer, budget: number, out: Piece[]): void {
  const current = LEVELS[level];
  if (!current) {
    sliceToFit(text, tokenizer, budget, sep, out);
    return;
  }
  let first = true;
  for (const raw of current.split(text)) {
    const part = raw.trim();
    if (part.length === 0) continue;
    // The first part keeps the separator the whole text had towards what came before it.
    const partSep = first ? sep : current.sep;
    first = false;
    const tokens = tokenizer.count(part);
    if (tokens <= budget) out.push({ text: part, tokens, sep: partSep });
    else collect(part, level + 1, partSep, tokenizer, budget, out);
  }
}

/** Splits `text` into pieces of at most `budget` tokens each, keeping the largest structures whole. */
export function toPieces(text: string, tokenizer: Tokenizer, budget: number): Piece[] {
  const out: Piece[] = [];
  collect(text, 0, '\n\n', tokenizer, budget, out);
  return out;
}

/**
 * The end of `piece` that fits `budget` tokens: whole sentences if at least one fits, else whole
 * words; undefined when not even the last word fits.
 */
export function tailOfPiece(piece: Piece, tokenizer: Tokenizer, budget: number): Piece | undefined {
  for (const level of [LEVELS[2]!, LEVELS[3]!]) {
    const parts = level.split(piece.text).map((part) => part.trim()).filter((part) => part.length > 0);
    const taken: string[] = [];
    let used = 0;
    for (let i = parts.length - 1; i >= 0; i--) {
      const tokens = tokenizer.count(parts[i]!);
      if (used + tokens > budget) break;
      taken.push(parts[i]!);
      used += tokens;
    }
    if (taken.length > 0) return { text: taken.reverse().join(' '), tokens: used, sep: piece.sep };
  }
  return undefined;
}
