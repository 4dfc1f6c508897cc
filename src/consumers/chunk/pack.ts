import type { Tokenizer } from '../../text/tokenizer.js';
import { tailOfPiece, toPieces, type Piece } from './pieces.js';
import type { Section } from './sections.js';

export interface PackOptions {
  maxTokens: number;
  overlapTokens: number;
}

export interface PackedChunk {
  text: string;
  tokens: number;
}

function joinPieces(pieces: Piece[]): string {
  let text = '';
  pieces.forEach((piece, i) => {
    if (i === 0) text = piece.text;
    else text += (pieces[i - 1]!.heading ? '\n\n' : piece.sep) + piece.text;
  });
  return text;
}

/** The tail of a chunk's body, up to `budget` tokens: whole pieces, then whole sentences or words. */
function overlapTail(body: Piece[], tokenizer: Tokenizer, budget: number): Piece[] {
  const taken: Piece[] = [];
  let used = 0;
  for (let i = body.length - 1; i >= 0 && used < budget; i--) {
    const piece = body[i]!;
    if (piece.heading) break;
    if (used + piece.tokens <= budget) {
      taken.push(piece);
      used += piece.tokens;
      continue;
    }
    const partial = tailOfPiece(piece, tokenizer, budget - used);
    if (partial) taken.push(partial);
    break;
  }
  return taken.reverse();
}

/**
 * Packs one section greedily into chunks of at most `maxTokens` (by the sum of piece counts).
 * A short heading (at most a quarter of the budget) starts every chunk of its section, so each
 * chunk says what it is about. Each chunk after the first also starts with the tail of the one
 * before (up to `overlapTokens`), taken only from this section: the first chunk of a section
 * depends on nothing before it, which is what keeps edits local to their section.
 */
export function packSection(section: Section, tokenizer: Tokenizer, options: PackOptions): PackedChunk[] {
  const { maxTokens, overlapTokens } = options;
  const headingTokens = section.heading === null ? 0 : tokenizer.count(section.heading);
  const headingAsContext = section.heading !== null && headingTokens <= Math.floor(maxTokens / 4);
  const prefix: Piece[] = headingAsContext ? [{ text: section.heading!, tokens: headingTokens, sep: '\n\n', heading: true }] : [];
  const prefixTokens = headingAsContext ? headingTokens : 0;
  const bodyText = section.heading !== null && !headingAsContext ? `${section.heading}\n\n${section.body}` : section.body;
  // Pieces leave room for the heading, so the heading plus any one piece always fits.
  const pieces = toPieces(bodyText, tokenizer, maxTokens - prefixTokens);

  const chunks: PackedChunk[] = [];
  let current: Piece[] = [...prefix];
  let used = prefixTokens;
  let fresh = 0;
  const emit = (): void => {
    chunks.push({ text: joinPieces(current), tokens: used });
  };

  for (const piece of pieces) {
    if (fresh > 0 && used + piece.tokens > maxTokens) {
      emit();
      const budget = Math.min(overlapTokens, maxTokens - prefixTokens - piece.tokens);
      const overlap = budget > 0 ? overlapTail(current.slice(prefix.length), tokenizer, budget) : [];
      current = [...prefix, ...overlap];
      used = prefixTokens + overlap.reduce((sum, p) => sum + p.tokens, 0);
      fresh = 0;
    }
    current.push(piece);
    used += piece.tokens;
    fresh += 1;
  }
  if (fresh > 0) emit();
  return chunks;
}
