import { z } from 'zod';
import { long, nonNegativeInt, nullableDouble, nullableString, tenant, timestampMillis } from './common.js';

const text = z.string({ error: 'expected a string' });
const amount = z.number({ error: 'expected a number' });

export const orderItemSchema = z.object({
  sku: text,
  name: nullableString,
  qty: amount,
  price: amount,
  row_total: amount,
});
export type OrderItem = z.output<typeof orderItemSchema>;

/**
 * `orders` (avro/order): an order pulled from a shop. Personal data stays out: the customer is an
 * opaque reference, never a name, an address or an e-mail address. The topic has bounded retention.
 */
export const orderSchema = z.object({
  tenant,
  store_id: nonNegativeInt,
  order_id: text.min(1, { error: 'must not be empty' }),
  /** The order number shown to the customer. */
  increment_id: nullableString,
  source_version: long,
  occurred_at: timestampMillis,
  status: text,
  currency: text,
  grand_total: amount,
  subtotal: nullableDouble,
  tax_total: nullableDouble,
  shipping_total: nullableDouble,
  discount_total: nullableDouble,
  items: z.array(orderItemSchema, { error: 'expected an array of order items' }).default([]),
  customer_ref: nullableString,
  created_at: timestampMillis,
});
export type Order = z.output<typeof orderSchema>;
export type OrderInput = z.input<typeof orderSchema>;
