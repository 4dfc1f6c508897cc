import { productChangeSchema, type ProductChange } from '../../../schemas/zod/product.js';
import { htmlToReadableText } from '../../../text/html-to-text.js';
import { clean, composeText, ifNew, withTitle } from '../compose-text.js';
import { ENTITY_DOC_TYPES } from '../doc-type.js';
import { requireText } from '../require-field.js';
import type { EntityMapper, MappedDocument } from '../types.js';
import { productUrl } from '../urls.js';

/** Magento visibility 1: "Not Visible Individually" (a child of a configurable product). */
const NOT_VISIBLE_INDIVIDUALLY = 1;

function describe(value: ProductChange, name: string): string {
  const facts = [
    value.brand && clean(value.brand) ? `Brand: ${clean(value.brand)}` : '',
    `SKU: ${clean(value.sku)}`,
    value.categories.length > 0 ? `Categories: ${value.categories.map(clean).filter(Boolean).join('; ')}` : '',
  ].filter(Boolean);
  const attributes = Object.keys(value.attributes)
    .sort()
    .map((label) => [attributeLabel(label), clean(value.attributes[label])] as const)
    .filter(([label, text]) => label.length > 0 && text.length > 0)
    .map(([label, text]) => `- ${label}: ${text}`);
  const alts = value.image_alt_texts.map(clean).filter(Boolean);
  const shortDescription = htmlToReadableText(value.short_description);
  const description = htmlToReadableText(value.description);

  // The description's headings open sections that run to the next heading, so everything meant for
  // the opening section (facts, summary, image descriptions) comes before it, and the
  // specifications, under their own heading, after it.
  return withTitle(
    name,
    composeText([
      facts.join('\n'),
      shortDescription,
      ifNew(clean(value.meta_description), `${shortDescription}\n${description}`),
      alts.length > 0 ? `Images: ${alts.join('; ')}` : '',
      description,
      attributes.length > 0 ? `## Specifications\n\n${attributes.join('\n')}` : '',
    ]),
  );
}

/** An attribute code such as `shoe_size` reads as "Shoe size"; a label is kept as it is. */
function attributeLabel(label: string): string {
  const text = clean(label);
  if (!/^[a-z0-9_]+$/.test(text)) return text;
  const words = text.replace(/_+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Product → document. Text: name, brand, SKU, categories, short description, description, key
 * attributes, image alt texts (plan §1.4). Live fields (price, special price and its dates,
 * currency, qty, stock status) go to the payload only (plan §1.2).
 */
export const productMapper: EntityMapper<ProductChange> = {
  schema: productChangeSchema,
  filterReason(value, { filters }) {
    if (filters.skipDisabledProducts && value.status === 'disabled') return 'product_disabled';
    if (filters.skipInvisibleProducts && value.visibility === NOT_VISIBLE_INDIVIDUALLY) return 'product_not_visible';
    return undefined;
  },
  map(value): MappedDocument {
    const sku = requireText(value.sku, 'sku', 'product');
    // A product saved without a name is still for sale and found by its SKU; refusing it would
    // leave its previous text (and chunks) in the index.
    const name = value.name?.trim() ? value.name : sku;
    return {
      title: name,
      text: describe(value, name),
      docType: ENTITY_DOC_TYPES.product.docType,
      docSubtype: ENTITY_DOC_TYPES.product.docSubtype,
      url: productUrl(value.url_key),
      payload: {
        sku: value.sku,
        categories: value.categories,
        brand: value.brand,
        attributes: value.attributes,
        url_key: value.url_key,
        status: value.status,
        visibility: value.visibility,
        meta_title: value.meta_title,
        price: value.price,
        special_price: value.special_price,
        special_from_date: value.special_from_date,
        special_to_date: value.special_to_date,
        currency: value.currency,
        qty: value.qty,
        stock_status: value.stock_status,
      },
    };
  },
};
