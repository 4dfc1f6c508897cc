import type { Tokenizer } from './tokenizer.js';

/**
 * A tokenizer-free approximation of WordPiece (BERT, MiniLM) and BPE token counts, for when the
 * model's own tokenizer is not at hand. Rules, applied to each piece of the text:
 * - a punctuation or symbol character is 1 token (WordPiece splits every punctuation character);
 * - a CJK, kana or Hangul character is 1 token (BERT splits CJK ideographs one by one);
 * - a run of ASCII letters is ceil(length / 4) tokens;
 * - a run of letters with any non-ASCII letter is ceil(length / 3) tokens (accented and
 *   non-Latin words are rarer in the vocabulary and split into shorter pieces);
 * - a run of digits is ceil(length / 3) tokens.
 *
 * Why it over-estimates slightly: WordPiece keeps common words whole ("shipping", "returns",
 * "international" are 1 token each), where these rules give 2 to 4, and only rare long words
 * (brand names, SKUs, compound words) are split into pieces of ~3 to 4 characters. On shop prose
 * this counts roughly 1.2 to 1.5 times the WordPiece tokens. Erring high is the safe side: chunks
 * come out a little shorter than the limit allows, but never longer than the model reads.
 */
const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}';
// CJK characters first and one at a time; letter runs stop at a CJK character.
const PIECE = new RegExp(`[${CJK}]|(?:(?![${CJK}])[\\p{L}\\p{M}])+|\\p{N}+|[^\\s\\p{L}\\p{M}\\p{N}]`, 'gu');
const ASCII_WORD = /^[A-Za-z]+$/;
const CJK_CHAR = new RegExp(`^[${CJK}]$`, 'u');

function pieceTokens(piece: string): number {
  if (/^\p{N}/u.test(piece)) return Math.ceil(piece.length / 3);
  if (ASCII_WORD.test(piece)) return Math.ceil(piece.length / 4);
  if (CJK_CHAR.test(piece)) return 1;
  if (/^[\p{L}\p{M}]/u.test(piece)) return Math.ceil(piece.length / 3);
  return 1;
}

export function countApproxTokens(text: string): number {
  let total = 0;
  for (const match of text.matchAll(PIECE)) total += pieceTokens(match[0]);
  return total;
}

/** The default tokenizer of the chunk stage; see the rules above. */
export const approxTokenizer: Tokenizer = {
  id: 'approx-wordpiece-v1',
  count: countApproxTokens,
};
