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
 * Text that starts with `# title`. When the body already opens with a heading saying the same
 * (CMS content usually repeats the page title as its `<h1>`), that heading is dropped instead of
 * doubled.
 */
export function withTitle(title: string, body: string): string {
  const [first = ''] = body.split('\n', 1);
  const rest = isHeadingLine(first) && headingText(first)?.toLowerCase() === title.toLowerCase() ? body.slice(first.length) : body;
  return composeText([headingLine(title), rest]);
}

/** `extra` when it adds something: not blank and not already contained in `text` (case-insensitive). */
export function ifNew(extra: string, text: string): string {
  const value = extra.trim();
  return value.length > 0 && !text.toLowerCase().includes(value.toLowerCase()) ? value : '';
}
