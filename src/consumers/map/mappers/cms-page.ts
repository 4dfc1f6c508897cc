import { cmsPageChangeSchema, type CmsPageChange } from '../../../schemas/zod/content.js';
import { htmlToReadableText } from '../../../text/html-to-text.js';
import { cmsFilterReason } from '../cms-filter.js';
import { clean, composeText, ifNew, withTitle } from '../compose-text.js';
import { classifyCmsPage } from '../doc-type.js';
import { requireText } from '../require-field.js';
import type { EntityMapper, MappedDocument } from '../types.js';
import { cmsPageUrl } from '../urls.js';

/**
 * CMS page → document. Text: the page heading (content heading, else title), meta description
 * and content as readable text (plan §1.4); the type comes from the identifier (plan §1.3).
 * A page whose content has no readable text (only widgets, say) is not indexed.
 */
export const cmsPageMapper: EntityMapper<CmsPageChange> = {
  schema: cmsPageChangeSchema,
  filterReason(value, { filters }) {
    const reason = cmsFilterReason(value.identifier, value.is_active, filters);
    if (reason) return reason;
    return htmlToReadableText(value.content).length === 0 ? 'cms_no_content' : undefined;
  },
  map(value): MappedDocument {
    const identifier = requireText(value.identifier, 'identifier', 'cms_page');
    const title = requireText(value.title, 'title', 'cms_page');
    const heading = clean(value.content_heading) || title;
    const content = htmlToReadableText(value.content);
    const { docType, docSubtype } = classifyCmsPage(identifier, value.document_type_hint);
    return {
      title,
      text: withTitle(heading, composeText([ifNew(clean(value.meta_description), content), content])),
      docType,
      docSubtype,
      url: cmsPageUrl(identifier),
      payload: {
        identifier,
        meta_title: value.meta_title,
        content_heading: value.content_heading,
      },
    };
  },
};
