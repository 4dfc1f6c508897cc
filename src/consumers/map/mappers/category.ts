import { categoryChangeSchema, type CategoryChange } from '../../../schemas/zod/content.js';
import { htmlToReadableText } from '../../../text/html-to-text.js';
import { clean, composeText, ifNew, withTitle } from '../compose-text.js';
import { ENTITY_DOC_TYPES } from '../doc-type.js';
import { requireText } from '../require-field.js';
import type { EntityMapper, MappedDocument } from '../types.js';
import { categoryUrl } from '../urls.js';

/** "Garden > Tools > Shears": the given breadcrumb, or one built from the parents and the name. */
function breadcrumb(value: CategoryChange, name: string): string {
  const given = clean(value.full_path);
  if (given.length > 0) return given;
  return [...value.parent_names.map(clean).filter(Boolean), name].join(' > ');
}

function productCountSentence(count: number | null): string {
  if (count === null) return '';
  if (count === 0) return 'There are no products in this category yet.';
  return count === 1 ? '1 product in this category.' : `${count} products in this category.`;
}

/** Category → document. Text: breadcrumb, description, meta description, product count (plan §1.4). */
export const categoryMapper: EntityMapper<CategoryChange> = {
  schema: categoryChangeSchema,
  filterReason(value, { filters }) {
    if (value.level < filters.categoryMinLevel) return 'category_below_min_level';
    if (filters.skipInactiveCategories && !value.is_active) return 'category_inactive';
    return undefined;
  },
  map(value): MappedDocument {
    const name = requireText(value.name, 'name', 'category');
    const path = breadcrumb(value, name);
    const body = composeText([`Category: ${path}`, htmlToReadableText(value.description)]);
    return {
      title: name,
      text: withTitle(name, composeText([body, ifNew(clean(value.meta_description), body), productCountSentence(value.product_count)])),
      docType: ENTITY_DOC_TYPES.category.docType,
      docSubtype: ENTITY_DOC_TYPES.category.docSubtype,
      url: categoryUrl(value.url_path),
      payload: {
        url_path: value.url_path,
        full_path: path,
        parent_names: value.parent_names,
        level: value.level,
        product_count: value.product_count,
        meta_title: value.meta_title,
      },
    };
  },
};
