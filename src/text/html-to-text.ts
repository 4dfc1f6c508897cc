import { compile, type FormatCallback, type HtmlToTextOptions } from 'html-to-text';
import { formatMarkdownHeading, formatReadableTable } from './html-formatters.js';
import { stripMagentoDirectives } from './magento-directives.js';
import { normalizeWhitespace } from './normalize-whitespace.js';

/**
 * HTML (CMS content, product descriptions) → readable text for embedding. The output is
 * structured for the chunker:
 * - headings are their own line, `# Heading` (one `#` per level), preceded by an empty line;
 * - paragraphs and other blocks are separated by one empty line;
 * - list items are lines `- item` (ordered lists `1. item`), table rows are lines;
 * - links keep their text only, images are dropped (their `alt` text optionally kept), scripts,
 *   styles, forms' controls and other non-content elements are dropped;
 * - entities are decoded, Magento directives removed (keeping `{{trans "…"}}` strings), whitespace
 *   normalised (see normalizeWhitespace).
 * Never wraps lines: a paragraph is one line, whatever its length.
 */
export interface HtmlToTextOptionsLocal {
  /** Keep an image's `alt` text inline, as `[alt]`. @defaultValue false */
  keepImageAlt?: boolean;
}

const SKIPPED = ['script', 'style', 'noscript', 'template', 'iframe', 'object', 'svg', 'canvas', 'head', 'hr', 'button', 'select', 'input', 'textarea'];

const LINE_BLOCKS = ['dt', 'dd', 'figcaption', 'summary', 'caption', 'legend'];
const PARAGRAPH_BLOCKS = ['section', 'figure', 'address', 'details', 'dl', 'fieldset', 'center'];

const formatImageAlt: FormatCallback = (elem, _walk, builder) => {
  const alt: unknown = elem.attribs?.alt;
  if (typeof alt === 'string' && alt.trim().length > 0) builder.addInline(`[${alt.trim()}]`);
};

function buildOptions(keepImageAlt: boolean): HtmlToTextOptions {
  return {
    wordwrap: false,
    formatters: { markdownHeading: formatMarkdownHeading, readableTable: formatReadableTable, imageAlt: formatImageAlt },
    selectors: [
      ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, format: 'markdownHeading' })),
      { selector: 'table', format: 'readableTable' },
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'ul', options: { itemPrefix: '- ' } },
      { selector: 'img', format: keepImageAlt ? 'imageAlt' : 'skip' },
      // html-to-text treats unknown tags as inline: without these, "<dt>Delivery</dt><dd>2-4 days</dd>"
      // would read "Delivery2-4 days".
      ...LINE_BLOCKS.map((selector) => ({ selector, format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } })),
      ...PARAGRAPH_BLOCKS.map((selector) => ({ selector, format: 'block', options: { leadingLineBreaks: 2, trailingLineBreaks: 2 } })),
      ...SKIPPED.map((selector) => ({ selector, format: 'skip' })),
    ],
  };
}

// Compiled once: compiling the selectors is the expensive part of html-to-text.
const plain = compile(buildOptions(false));
const withAlt = compile(buildOptions(true));

/** Converts HTML to readable text; null, undefined or blank input gives the empty string. */
export function htmlToReadableText(html: string | null | undefined, options: HtmlToTextOptionsLocal = {}): string {
  if (html === null || html === undefined || html.trim().length === 0) return '';
  const convert = options.keepImageAlt === true ? withAlt : plain;
  return normalizeWhitespace(convert(stripMagentoDirectives(html)));
}
