import { headingLine, headingText, isHeadingLine } from '../../text/headings.js';
import { normalizeWhitespace } from '../../text/normalize-whitespace.js';

/** Trims a plain-text field (name, title, meta) to one clean line; null/blank → ''. */
export function clean(value: string | null | undefined): string {
  return value === null || value === undefined ? '' : normalizeWhitespace(value).replace(/\n+/g, ' ');
}

/** Joins non-empty blocks with an empty line between them and normalises the whitespace. */
export function composeText(blocks: ReadonlyArray<string | null | undefined | false>): string {
  return normalizeWhitespace(blocks.filter((block): block is string => typeof block === 'string' && block.trim().length > 0).join('\n\n'));
}

/**
 * Text that starts with `# title`. When the body's first heading says the same (CMS content and
 * product descriptions often repeat the title as their `<h1>`), that heading is dropped instead of
 * doubled.
 */
export function withTitle(title: string, body: string): string {
  const lines = body.split('\n');
  const first = lines.findIndex(isHeadingLine);
  if (first >= 0 && headingText(lines[first]!)?.toLowerCase() === title.toLowerCase()) lines.splice(first, 1);
  return composeText([headingLine(title), lines.join('\n')]);
}

/** `extra` when it adds something: not blank and not already contained in `text` (case-insensitive). */
export function ifNew(extra: string, text: string): string {
  const value = extra.trim();
  return value.length > 0 && !text.toLowerCase().includes(value.toLowerCase()) ? value : '';
}
