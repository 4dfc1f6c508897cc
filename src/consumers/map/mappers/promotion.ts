import { promotionChangeSchema, type PromotionChange } from '../../../schemas/zod/content.js';
import { htmlToReadableText } from '../../../text/html-to-text.js';
import { clean, composeText, withTitle } from '../compose-text.js';
import { ENTITY_DOC_TYPES } from '../doc-type.js';
import { requireText } from '../require-field.js';
import type { EntityMapper, MappedDocument } from '../types.js';

const figure = (n: number) => Number(n.toFixed(2));

/**
 * The offer in words. `discount_action` is the source's rule action (Magento's SalesRule and
 * CatalogRule actions); records written before it existed, and senders that name only percentage
 * or fixed, have none and read as before. An action not listed here says only the amount.
 */
function discountSentence(value: PromotionChange): string {
  const { discount_amount: amount, discount_type: type, discount_action: action, discount_step: step } = value;
  if (amount === null || amount <= 0) return '';
  switch (action) {
    // Magento: "Buy X get Y free", where the discount amount is Y and the discount step X.
    case 'buy_x_get_y':
      return step !== null && step > 0 ? `Offer: buy ${figure(step)}, get ${figure(amount)} free.` : `Offer: get ${figure(amount)} free.`;
    // Catalog rules: "Adjust final price to this percentage" / "to discount value".
    case 'to_percent':
      return `Price: ${figure(amount)}% of the original price.`;
    case 'to_fixed':
      return `Price: ${amount.toFixed(2)} (discounted price).`;
    case 'cart_fixed':
      return `Discount: ${amount.toFixed(2)} off the whole cart (fixed amount).`;
    case 'by_fixed':
      return `Discount: ${amount.toFixed(2)} off each item (fixed amount).`;
  }
  if (type === 'percentage') return `Discount: ${figure(amount)}% off.`;
  if (type === 'fixed') return `Discount: ${amount.toFixed(2)} off (fixed amount).`;
  return `Discount: ${figure(amount)}.`;
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
            discountSentence(value),
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
        // Only when set: payloads of promotions written before these fields stay byte for byte the same.
        ...(value.discount_action === null ? {} : { discount_action: value.discount_action }),
        ...(value.discount_step === null ? {} : { discount_step: value.discount_step }),
        from_date: value.from_date,
        to_date: value.to_date,
        is_active: value.is_active,
      },
    };
  },
};
