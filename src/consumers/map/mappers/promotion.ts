import { promotionChangeSchema, type PromotionChange } from '../../../schemas/zod/content.js';
import { htmlToReadableText } from '../../../text/html-to-text.js';
import { clean, composeText, withTitle } from '../compose-text.js';
import { ENTITY_DOC_TYPES } from '../doc-type.js';
import { requireText } from '../require-field.js';
import type { EntityMapper, MappedDocument } from '../types.js';

function discountSentence(amount: number | null, type: PromotionChange['discount_type']): string {
  if (amount === null || amount <= 0) return '';
  if (type === 'percentage') return `Discount: ${Number(amount.toFixed(2))}% off.`;
  if (type === 'fixed') return `Discount: ${amount.toFixed(2)} off (fixed amount).`;
  return `Discount: ${Number(amount.toFixed(2))}.`;
}

function validitySentence(from: string | null, to: string | null): string {
  if (from && to) return `Valid from ${from} to ${to}.`;
  if (to) return `Valid until ${to}.`;
  if (from) return `Valid from ${from}.`;
  return '';
}

/** The UTC calendar day of epoch milliseconds, as YYYY-MM-DD. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/**
 * Promotion (cart price rule) → document. Text: name, description, discount, coupon code (present
 * only when public), conditions summary, validity dates (plan §1.4). `to_date` is inclusive and
 * compared with the UTC day of `now`: the store's time zone is not known here. Expiry is decided
 * when the record is mapped; a promotion that expires later is removed by the next change or
 * full sync of it.
 */
export const promotionMapper: EntityMapper<PromotionChange> = {
  schema: promotionChangeSchema,
  filterReason(value, { filters, now }) {
    if (filters.skipInactivePromotions && !value.is_active) return 'promotion_inactive';
    if (filters.skipExpiredPromotions && value.to_date !== null && value.to_date < utcDay(now)) return 'promotion_expired';
    return undefined;
  },
  map(value): MappedDocument {
    const name = requireText(value.name, 'name', 'promotion');
    const coupon = clean(value.coupon_code);
    const conditions = clean(value.conditions_summary);
    return {
      title: name,
      text: withTitle(
        name,
        composeText([
          htmlToReadableText(value.description),
          [
            discountSentence(value.discount_amount, value.discount_type),
            coupon ? `Coupon code: ${coupon}.` : '',
            conditions ? `Conditions: ${conditions}` : '',
            validitySentence(value.from_date, value.to_date),
          ]
            .filter(Boolean)
            .join('\n'),
        ]),
      ),
      docType: ENTITY_DOC_TYPES.promotion.docType,
      docSubtype: ENTITY_DOC_TYPES.promotion.docSubtype,
      url: null,
      payload: {
        coupon_code: value.coupon_code,
        discount_amount: value.discount_amount,
        discount_type: value.discount_type,
        from_date: value.from_date,
        to_date: value.to_date,
        is_active: value.is_active,
      },
    };
  },
};
