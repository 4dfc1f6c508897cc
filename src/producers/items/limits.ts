/**
 * Size limits of sender input, the same on every path (Magento webhook, `publish`, catalog files,
 * ERP events). They are checked while an item is read, before anything costly happens to it: a
 * 1 MB id would otherwise go through key encoding and the partitioner's murmur2 hash, which took
 * minutes of CPU for one request and starved every other one. docs/connectors/magento-webhook.md
 * lists them.
 */

/** An entity id (Magento entity id, SKU, CMS identifier), UTF-8 bytes after NFC. Magento's SKUs have at most 64 characters, CMS identifiers 100. */
export const MAX_ID_BYTES = 512;

/** A record key `tenant/type/id/store`, percent-encoded: a backstop behind the id limit. */
export const MAX_KEY_BYTES = 2048;

/** Fields of one item's `data` object. */
export const MAX_DATA_FIELDS = 1000;

/** Entries of one list (categories, image alt texts) or map (attributes). */
export const MAX_LIST_ENTRIES = 1000;

/** A name inside the data: an attribute code or label. */
export const MAX_NAME_BYTES = 256;

/**
 * One string value. A record as a whole must also fit `topics.maxMessageBytes` (4 MiB by default),
 * which is checked after encoding.
 */
export const MAX_STRING_BYTES = 2 * 1024 * 1024;

/**
 * A lone UTF-16 surrogate. In a `u` regex a well-formed pair is one code point, so only unpaired
 * halves match.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * `String.prototype.isWellFormed` (not in the ES2023 lib types): true when `text` holds no lone
 * surrogate. It answers at once for the text V8 stores one byte per character (most of it), so
 * the regex above runs only to find where an ill-formed string breaks.
 */
export const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * Why `text` cannot be written as a string field, or undefined when it can: a lone UTF-16 surrogate
 * (JSON allows `"\ud800"`, UTF-8 has no encoding for it, and strict decoders such as Confluent's
 * Python deserializer refuse the record) or more than `maxBytes` bytes.
 */
export function textProblem(text: string, maxBytes = MAX_STRING_BYTES): string | undefined {
  // UTF-8 takes one to three bytes per UTF-16 unit: only strings in between need counting.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes)) {
    return `is longer than ${maxBytes} bytes (UTF-8)`;
  }
  if (isWellFormed.call(text)) return undefined;
  const lone = LONE_SURROGATE.exec(text);
  if (lone) {
    const unit = text.charCodeAt(lone.index).toString(16);
    return `contains a lone surrogate (\\u${unit}) at character ${lone.index}: not valid Unicode text`;
  }
  return undefined;
}
