import { z } from 'zod';
import { changeIdentity, nullableDate, nullableDouble, nullableString, oneOf, stringArray, int32 } from './common.js';

/** `changes.product` (avro/product). Live fields (price…stock_status) go to the payload only. */
export const productChangeSchema = z.object({
  ...changeIdentity,
  sku: z.string({ error: 'expected a string' }),
  name: z.string({ error: 'expected a string' }),
  /** HTML. */
  description: nullableString,
  short_description: nullableString,
  meta_title: nullableString,
  meta_description: nullableString,
  url_key: nullableString,
  categories: stringArray.default([]),
  brand: nullableString,
  attributes: z.record(z.string(), z.string({ error: 'expected a string' }), { error: 'expected an object of strings' }).default({}),
  image_alt_texts: stringArray.default([]),
  status: oneOf(['enabled', 'disabled']).default('enabled'),
  /** Magento visibility 1..4 (1 = not visible individually). */
  visibility: int32.min(1, { error: 'must be 1..4' }).max(4, { error: 'must be 1..4' }).nullable().default(null),
  price: nullableDouble,
  special_price: nullableDouble,
  special_from_date: nullableDate,
  special_to_date: nullableDate,
  currency: nullableString,
  qty: nullableDouble,
  stock_status: oneOf(['in_stock', 'out_of_stock']).nullable().default(null),
});
export type ProductChange = z.output<typeof productChangeSchema>;
export type ProductChangeInput = z.input<typeof productChangeSchema>;

/** `changes.product_price` (avro/product_price): the price aspect, keyed like its product. */
export const productPriceChangeSchema = z.object({
  ...changeIdentity,
  sku: nullableString,
  price: z.number({ error: 'expected a number' }),
  special_price: nullableDouble,
  special_from_date: nullableDate,
  special_to_date: nullableDate,
  currency: z.string({ error: 'expected a string' }),
});
export type ProductPriceChange = z.output<typeof productPriceChangeSchema>;
export type ProductPriceChangeInput = z.input<typeof productPriceChangeSchema>;

/** `changes.product_stock` (avro/product_stock): the stock aspect, keyed like its product. */
export const productStockChangeSchema = z.object({
  ...changeIdentity,
  sku: nullableString,
  qty: z.number({ error: 'expected a number' }),
  stock_status: oneOf(['in_stock', 'out_of_stock']),
  is_in_stock: z.boolean({ error: 'expected a boolean' }),
});
export type ProductStockChange = z.output<typeof productStockChangeSchema>;
export type ProductStockChangeInput = z.input<typeof productStockChangeSchema>;
