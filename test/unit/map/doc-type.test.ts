import { describe, expect, it } from 'vitest';
import { classifyCmsPage, CMS_RULES, ENTITY_DOC_TYPES } from '../../../src/consumers/map/doc-type.js';

// The table of the Magento plan §1.3, written out again here (not read from the code), one
// identifier per pattern, so a changed rule fails a named row.
const TABLE: Array<[identifier: string, docType: string, subtype: string | null]> = [
  ['privacy-policy-cookie-restriction-mode', 'policy', 'privacy_policy'],
  ['data-protection', 'policy', 'privacy_policy'],
  ['terms-and-conditions', 'policy', 'terms'],
  ['conditions-of-sale', 'policy', 'terms'],
  ['returns', 'policy', 'return_policy'],
  ['refund-policy', 'policy', 'return_policy'],
  ['warranty-information', 'policy', 'warranty'],
  ['guarantee', 'policy', 'warranty'],
  ['shipping-costs', 'shipping', 'shipping_policy'],
  ['delivery-times', 'shipping', 'shipping_policy'],
  ['faq', 'faq', null],
  ['frequently-asked-questions', 'faq', null],
  ['help-center', 'faq', null],
  ['about-us', 'general', 'about'],
  ['our-story', 'general', 'about'],
  ['company-information', 'general', 'about'],
  ['contact', 'support', 'contact'],
  ['reach-us-by-phone', 'support', 'contact'],
  ['support', 'support', 'contact'],
  ['size-guide-shoes', 'guide', 'size_guide'],
  ['fit-guide', 'guide', 'size_guide'],
  ['how-to-care-for-leather', 'guide', null],
  ['guide-to-hiking-boots', 'guide', null],
  ['tutorial-waxing-skis', 'guide', null],
];

describe('classifyCmsPage', () => {
  describe.each(TABLE)('for the identifier "%s"', (identifier, docType, subtype) => {
    it(`gives ${docType} / ${String(subtype)}`, () => {
      expect(classifyCmsPage(identifier)).toEqual({ docType, docSubtype: subtype });
    });
  });

  it('covers every pattern of the rule table with a row above', () => {
    const prefixes = CMS_RULES.flatMap((rule) => rule.prefixes);
    for (const prefix of prefixes) {
      expect(TABLE.some(([identifier]) => identifier.startsWith(prefix)), `no row for ${prefix}*`).toBe(true);
    }
    expect(prefixes).toHaveLength(24);
  });

  it('falls back to general without subtype for an identifier no rule matches', () => {
    expect(classifyCmsPage('spring-lookbook')).toEqual({ docType: 'general', docSubtype: null });
  });

  it('matches by prefix only, never inside the identifier', () => {
    expect(classifyCmsPage('easy-returns')).toEqual({ docType: 'general', docSubtype: null });
  });

  it('matches case-insensitively', () => {
    expect(classifyCmsPage('Shipping-Info')).toEqual({ docType: 'shipping', docSubtype: 'shipping_policy' });
  });

  describe('when a document_type_hint is given', () => {
    it('overrides the table when it is a known type', () => {
      expect(classifyCmsPage('spring-lookbook', 'guide')).toEqual({ docType: 'guide', docSubtype: null });
      expect(classifyCmsPage('returns', 'faq')).toEqual({ docType: 'faq', docSubtype: null });
    });

    it('keeps the subtype of the table when the hint agrees with it', () => {
      expect(classifyCmsPage('returns', 'Policy')).toEqual({ docType: 'policy', docSubtype: 'return_policy' });
    });

    it('is ignored when it is not a known type, or blank', () => {
      expect(classifyCmsPage('returns', 'legal-stuff')).toEqual({ docType: 'policy', docSubtype: 'return_policy' });
      expect(classifyCmsPage('returns', ' ')).toEqual({ docType: 'policy', docSubtype: 'return_policy' });
      expect(classifyCmsPage('returns', null)).toEqual({ docType: 'policy', docSubtype: 'return_policy' });
    });
  });
});

describe('the doc types of other entities', () => {
  it('are product, category, general for blocks, and promotion', () => {
    expect(ENTITY_DOC_TYPES.product).toEqual({ docType: 'product', docSubtype: null });
    expect(ENTITY_DOC_TYPES.category).toEqual({ docType: 'category', docSubtype: null });
    expect(ENTITY_DOC_TYPES.cms_block).toEqual({ docType: 'general', docSubtype: null });
    expect(ENTITY_DOC_TYPES.promotion).toEqual({ docType: 'promotion', docSubtype: null });
  });
});
