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

/** One piece in ANCHOR_EVERY, chosen by its own text only, may open a chunk (see packSection). */
const ANCHOR_EVERY = 4;

/** FNV-1a over the UTF-16 units: cheap, and the same on every platform and run. */
function isAnchor(text: string): boolean {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % ANCHOR_EVERY === 0;
}

/**
 * Packs one section greedily into chunks of at most `maxTokens` (by the sum of piece counts).
 * A short heading (at most a quarter of the budget) starts every chunk of its section, so each
 * chunk says what it is about. Each chunk after the first also starts with the tail of the one
 * before (up to `overlapTokens`), taken only from this section: the first chunk of a section
 * depends on nothing before it, which is what keeps edits local to their section.
 *
 * Inside a section longer than one chunk, pure greedy packing would let an edit move every
 * boundary after it. So boundaries are also content-defined, as in rsync or restic: a piece whose
 * own text hashes to an anchor (one in ANCHOR_EVERY) opens a new chunk once at least a third of
 * `maxTokens` of new text came since the previous anchor cut. Whether a piece is an anchor
 * depends on nothing before it, and the size condition counts from the previous anchor cut (never
 * from a cut forced by the size limit), so after an edit the packing falls back into step at the
 * next anchor: only the chunks between the edit and that anchor change. The price: a chunk before
 * an anchor may be shorter than `maxTokens` allows, so long sections get some more chunks.
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

  // Anchors only matter when the section spans several chunks; a section that fits stays whole.
  const anchored = prefixTokens + pieces.reduce((sum, p) => sum + p.tokens, 0) > maxTokens;
  const minAnchorGap = Math.floor(maxTokens / 3);

  const chunks: PackedChunk[] = [];
  let current: Piece[] = [...prefix];
  let used = prefixTokens;
  let fresh = 0;
  // New tokens since the last anchor cut (cuts forced by the size limit do not reset it).
  let sinceAnchorCut = 0;
  const emit = (): void => {
    chunks.push({ text: joinPieces(current), tokens: used });
  };

  for (const piece of pieces) {
    const full = fresh > 0 && used + piece.tokens > maxTokens;
    const anchor = anchored && fresh > 0 && sinceAnchorCut >= minAnchorGap && isAnchor(piece.text);
    if (full || anchor) {
      emit();
      const budget = Math.min(overlapTokens, maxTokens - prefixTokens - piece.tokens);
      const overlap = budget > 0 ? overlapTail(current.slice(prefix.length), tokenizer, budget) : [];
      current = [...prefix, ...overlap];
      used = prefixTokens + overlap.reduce((sum, p) => sum + p.tokens, 0);
      fresh = 0;
      if (anchor) sinceAnchorCut = 0;
    }
    current.push(piece);
    used += piece.tokens;
    fresh += 1;
    sinceAnchorCut += piece.tokens;
  }
  if (fresh > 0) emit();
  return chunks;
}
