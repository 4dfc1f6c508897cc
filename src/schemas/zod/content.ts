import { z } from 'zod';
import { changeIdentity, nonNegativeInt, nullableDate, nullableDouble, nullableString, oneOf, stringArray } from './common.js';

const text = z.string({ error: 'expected a string' });
const isActive = z.boolean({ error: 'expected a boolean' }).default(true);

/** `changes.category` (avro/category). */
export const categoryChangeSchema = z.object({
  ...changeIdentity,
  name: text,
  /** HTML. */
  description: nullableString,
  url_path: nullableString,
  /** Breadcrumb, e.g. "Garden > Tools > Shears". */
  full_path: nullableString,
  meta_title: nullableString,
  meta_description: nullableString,
  product_count: nonNegativeInt.nullable().default(null),
  parent_names: stringArray.default([]),
  /** Depth in the tree; the root is 1. */
  level: nonNegativeInt.default(2),
  is_active: isActive,
});
export type CategoryChange = z.output<typeof categoryChangeSchema>;
export type CategoryChangeInput = z.input<typeof categoryChangeSchema>;

/** `changes.cms_page` (avro/cms_page). */
export const cmsPageChangeSchema = z.object({
  ...changeIdentity,
  /** URL identifier; decides the document type. */
  identifier: text,
  title: text,
  /** HTML. */
  content: text,
  meta_title: nullableString,
  meta_description: nullableString,
  content_heading: nullableString,
  is_active: isActive,
  document_type_hint: nullableString,
});
export type CmsPageChange = z.output<typeof cmsPageChangeSchema>;
export type CmsPageChangeInput = z.input<typeof cmsPageChangeSchema>;

/** `changes.cms_block` (avro/cms_block). */
export const cmsBlockChangeSchema = z.object({
  ...changeIdentity,
  identifier: text,
  title: text,
  /** HTML. */
  content: text,
  is_active: isActive,
});
export type CmsBlockChange = z.output<typeof cmsBlockChangeSchema>;
export type CmsBlockChangeInput = z.input<typeof cmsBlockChangeSchema>;

/** `changes.promotion` (avro/promotion, v2): a cart or catalog price rule, without its internal rule logic. */
export const promotionChangeSchema = z.object({
  ...changeIdentity,
  name: text,
  description: nullableString,
  /** Only when the coupon is public. */
  coupon_code: nullableString,
  discount_amount: nullableDouble,
  discount_type: oneOf(['percentage', 'fixed']).nullable().default(null),
  /** The source's rule action as sent (Magento: by_percent, by_fixed, cart_fixed, buy_x_get_y, to_percent, to_fixed, or an extension's own). */
  discount_action: text.min(1, { error: 'must not be empty' }).nullable().default(null),
  /** Magento's discount step: for buy_x_get_y the X items to buy. */
  discount_step: nullableDouble,
  conditions_summary: nullableString,
  from_date: nullableDate,
  to_date: nullableDate,
  is_active: isActive,
});
export type PromotionChange = z.output<typeof promotionChangeSchema>;
export type PromotionChangeInput = z.input<typeof promotionChangeSchema>;
