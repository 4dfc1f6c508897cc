/**
 * Normalises whitespace of readable text so equal content gives equal text (and so equal hashes):
 * Unicode NFC, no-break and other exotic spaces become plain spaces, zero-width spaces go, runs of spaces collapse, lines
 * are trimmed, and at most one empty line separates blocks. Paragraph breaks (an empty line) and
 * line breaks (list items, table rows) are kept: the chunker splits on them.
 */
export function normalizeWhitespace(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]/g, ' ')
    // Zero-width space, word joiner, BOM; joiners (ZWJ/ZWNJ) stay: some scripts and emoji need them.
    .replace(/[\u200b\u2060\ufeff]/g, '')
    .split('\n')
    .map((line) => line.replace(/ {2,}/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
