import { cmsBlockChangeSchema, type CmsBlockChange } from '../../../schemas/zod/content.js';
import { htmlToReadableText } from '../../../text/html-to-text.js';
import { cmsFilterReason } from '../cms-filter.js';
import { clean, withTitle } from '../compose-text.js';
import { ENTITY_DOC_TYPES } from '../doc-type.js';
import { requireText } from '../require-field.js';
import type { EntityMapper, MappedDocument } from '../types.js';

/**
 * CMS block → document (`general`): footer notes, store hours, notices. A block whose content has
 * no readable text (a widget placeholder, say) is not indexed.
 */
export const cmsBlockMapper: EntityMapper<CmsBlockChange> = {
  schema: cmsBlockChangeSchema,
  filterReason(value, { filters }) {
    const reason = cmsFilterReason(value.identifier, value.is_active, filters);
    if (reason) return reason;
    return htmlToReadableText(value.content).length === 0 ? 'cms_no_content' : undefined;
  },
  map(value): MappedDocument {
    const identifier = requireText(value.identifier, 'identifier', 'cms_block');
    // Blocks often have an internal admin title only; fall back to the identifier.
    const title = clean(value.title) || identifier;
    return {
      title,
      text: withTitle(title, htmlToReadableText(value.content)),
      docType: ENTITY_DOC_TYPES.cms_block.docType,
      docSubtype: ENTITY_DOC_TYPES.cms_block.docSubtype,
      url: null,
      payload: { identifier },
    };
  },
};
