import type { EntityType } from '../../core/entities.js';

/**
 * Document types of the index (Magento plan §1.1 and §1.3). A CMS page's type comes from its
 * identifier; the other entity types have one type each.
 */
export const DOC_TYPES = ['product', 'category', 'policy', 'shipping', 'faq', 'support', 'guide', 'general', 'promotion'] as const;
export type DocType = (typeof DOC_TYPES)[number];

export interface DocClassification {
  docType: DocType;
  docSubtype: string | null;
}

interface CmsRule {
  prefixes: readonly string[];
  docType: DocType;
  docSubtype: string | null;
}

/**
 * The CMS identifier table of the Magento plan §1.3, in its order: the first rule with a prefix the
 * identifier starts with wins (case-insensitive).
 */
export const CMS_RULES: readonly CmsRule[] = [
  { prefixes: ['privacy', 'data-protection'], docType: 'policy', docSubtype: 'privacy_policy' },
  { prefixes: ['terms', 'conditions'], docType: 'policy', docSubtype: 'terms' },
  { prefixes: ['return', 'refund'], docType: 'policy', docSubtype: 'return_policy' },
  { prefixes: ['warranty', 'guarantee'], docType: 'policy', docSubtype: 'warranty' },
  { prefixes: ['shipping', 'delivery'], docType: 'shipping', docSubtype: 'shipping_policy' },
  { prefixes: ['faq', 'frequently-asked', 'help'], docType: 'faq', docSubtype: null },
  { prefixes: ['about', 'our-story', 'company'], docType: 'general', docSubtype: 'about' },
  { prefixes: ['contact', 'reach-us', 'support'], docType: 'support', docSubtype: 'contact' },
  { prefixes: ['size-guide', 'fit-guide'], docType: 'guide', docSubtype: 'size_guide' },
  { prefixes: ['how-to', 'guide', 'tutorial'], docType: 'guide', docSubtype: null },
];

export const CMS_DEFAULT: DocClassification = { docType: 'general', docSubtype: null };

export function isDocType(value: string): value is DocType {
  return (DOC_TYPES as readonly string[]).includes(value);
}

function ruleFor(identifier: string): CmsRule | undefined {
  const id = identifier.trim().toLowerCase();
  return CMS_RULES.find((rule) => rule.prefixes.some((prefix) => id.startsWith(prefix)));
}

/**
 * Classifies a CMS page. A `document_type_hint` that names a known doc type overrides the table
 * (an editor knows better than a naming convention); the subtype of the identifier's rule is kept
 * only when that rule agrees with the hint. An unknown hint is ignored.
 */
export function classifyCmsPage(identifier: string, hint?: string | null): DocClassification {
  const rule = ruleFor(identifier);
  const fromTable: DocClassification = rule ? { docType: rule.docType, docSubtype: rule.docSubtype } : CMS_DEFAULT;
  const normalizedHint = hint?.trim().toLowerCase();
  if (normalizedHint && isDocType(normalizedHint) && normalizedHint !== fromTable.docType) {
    return { docType: normalizedHint, docSubtype: null };
  }
  return fromTable;
}

/** The type of every other entity's documents. CMS blocks are shop-wide notices: `general`. */
export const ENTITY_DOC_TYPES: Record<Exclude<EntityType, 'cms_page'>, DocClassification> = {
  product: { docType: 'product', docSubtype: null },
  category: { docType: 'category', docSubtype: null },
  cms_block: { docType: 'general', docSubtype: null },
  promotion: { docType: 'promotion', docSubtype: null },
};
