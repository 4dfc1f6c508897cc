import type { DocumentHeader } from '../../core/records.js';
import { sha256Hex } from '../../text/sha256.js';

/**
 * The context header of a document's chunks (docs/retrieval.md): one line naming the document
 * (title, type, category path; for products the brand and attributes), put before every chunk's
 * text when it is embedded. A chunk deep in a page ("Weight: 420 g") then still says which product
 * it belongs to, so a question that names the product and asks for the fact finds it.
 *
 * The header is embedded, never stored: a point's `text` payload stays the readable chunk. It is
 * built from the document's header fields only (title, doc type and subtype, and an allow-list of
 * `payload_json` fields), never from live fields (price, special price, quantity, stock status),
 * so a price or stock change leaves every header, chunk hash and vector as it was.
 */
export type ContextSource = Pick<DocumentHeader, 'title' | 'entity_type' | 'doc_type' | 'doc_subtype' | 'payload_json'>;

/** Upper bound of a header, in characters: about 75 tokens of English for MiniLM's tokenizer. */
export const MAX_HEADER_CHARS = 300;
const MAX_VALUE_CHARS = 80;

/** How a shopper would name each doc type. */
const TYPE_WORDS: Record<string, string> = {
  product: 'product',
  category: 'product category',
  policy: 'shop policy',
  shipping: 'shipping and delivery',
  faq: 'frequently asked questions',
  support: 'customer service',
  guide: 'guide',
  general: 'shop information',
  promotion: 'promotion, discount offer',
};

/**
 * Attribute codes that would carry a live value, by a word of the code (`msrp_price`, `stock_qty`,
 * `availability`). Products keep price and stock in their own fields, but a source may also send
 * them as attributes; they never enter a header.
 */
const LIVE_ATTRIBUTE = /(^|[^a-z])(price|cost|qty|quantity|stock|inventory|availability|salable|saleable)([^a-z]|$)/i;

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** At most `max` characters, cut at a word boundary, with an ellipsis when cut. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max - 1);
  const space = head.lastIndexOf(' ');
  return `${(space > max / 2 ? head.slice(0, space) : head).trimEnd()}…`;
}

function words(code: string): string {
  return code.replace(/_+/g, ' ').trim();
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return oneLine(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(valueText).filter(Boolean).join(', ');
  return '';
}

function parsePayload(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The parts after title and type: where the document sits and what a shopper filters on. */
function detailParts(source: ContextSource, payload: Record<string, unknown>): string[] {
  if (source.entity_type === 'category') {
    const path = valueText(payload.full_path);
    return path && path !== oneLine(source.title) ? [path] : [];
  }
  if (source.entity_type !== 'product') return [];
  const parts: string[] = [];
  const categories = valueText(payload.categories);
  if (categories) parts.push(categories);
  const brand = valueText(payload.brand);
  if (brand) parts.push(`brand: ${brand}`);
  const attributes = typeof payload.attributes === 'object' && payload.attributes !== null && !Array.isArray(payload.attributes) ? (payload.attributes as Record<string, unknown>) : {};
  for (const code of Object.keys(attributes).sort()) {
    if (LIVE_ATTRIBUTE.test(code)) continue;
    const value = valueText(attributes[code]);
    if (value) parts.push(`${words(code)}: ${cut(value, MAX_VALUE_CHARS)}`);
  }
  return parts;
}

/**
 * The header of a document's chunks: the title, then in parentheses the type, the categories, the
 * brand and the attributes, e.g. `Cloudbreak 3L waterproof hiking jacket (product; Outdoor,
 * Jackets & rainwear; brand: Fernhill; colour: Pine green, Black; size: S, M, L)`. Plain words
 * rather than field separators such as `|`: on the sample evaluation set (docs/retrieval.md) the
 * parenthesised form ranked better with MiniLM than the same parts joined by ` | `.
 *
 * Deterministic, at most {@link MAX_HEADER_CHARS} characters: parts that would go beyond are left
 * out, whole, from the end (attributes in code order, so the same ones always go first).
 */
export function contextHeader(source: ContextSource): string {
  const title = cut(oneLine(source.title), MAX_HEADER_CHARS / 2);
  const type = TYPE_WORDS[source.doc_type] ?? words(source.doc_type);
  const parts = [source.doc_subtype && words(source.doc_subtype) !== type ? `${type}: ${words(source.doc_subtype)}` : type];
  // The title, " (", the parts joined by "; ", ")".
  let length = title.length + 3 + parts[0]!.length;
  for (const part of detailParts(source, parsePayload(source.payload_json))) {
    if (length + 2 + part.length > MAX_HEADER_CHARS) break;
    parts.push(part);
    length += 2 + part.length;
  }
  return title ? `${title} (${parts.join('; ')})` : parts.join('; ');
}

/** What the model embeds for one chunk: the header, an empty line, the chunk's text. */
export function embeddingText(header: string, chunkText: string): string {
  return `${header}\n\n${chunkText}`;
}

/**
 * The chunk hash: sha256 hex of exactly the embedded text, the embedding cache key together with
 * the model id. A changed header (title, categories, attributes) or chunk text changes it; a
 * changed price or stock changes neither.
 */
export function embeddingHash(embedded: string): string {
  return sha256Hex(embedded);
}
