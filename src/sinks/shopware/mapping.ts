import { createHash } from 'node:crypto';
import type { ShopwareTarget } from '../../config/targets.js';
import { DEFAULT_CURRENCY_ID, type ShopwarePrice } from '../../connectors/shopware/types.js';
import { PermanentError } from '../../core/errors.js';
import type { ProductChange } from '../../schemas/zod/product.js';

/**
 * Pure mapping of ragsync's product values to Shopware product payloads (docs/connectors/shopware.md
 * has the table). No I/O: the sink decides what to write, these functions only say how.
 */

/** The custom fields that carry the version guard, as decimal strings. */
export const CF = {
  key: 'ragsync_key',
  version: 'ragsync_version',
  priceVersion: 'ragsync_price_version',
  stockVersion: 'ragsync_stock_version',
} as const;

/** The deterministic id of a record key's product: md5 hex of the key, as Shopware's own imports do. */
export function productId(key: string): string {
  return createHash('md5').update(key, 'utf8').digest('hex');
}

/** A visibility's id, fixed per product and sales channel so an upsert updates it instead of adding one. */
export function visibilityId(productIdHex: string, salesChannelId: string): string {
  return createHash('md5').update(`${productIdHex}/${salesChannelId}`, 'utf8').digest('hex');
}

/** The fields of a `changes.product` value every save writes (price and stock are guarded apart). */
export function productFields(id: string, value: ProductChange): Record<string, unknown> {
  return { id, productNumber: value.sku, name: value.name, description: value.description, active: value.status === 'enabled' };
}

/**
 * The sales channels a new product is shown in. Only written on create: a product that exists keeps
 * the visibilities it has (a merchant may have changed them, and a second visibility of one
 * channel is refused by the shop).
 */
export function visibilities(id: string, target: ShopwareTarget): Record<string, unknown>[] {
  return target.salesChannels.map((channel) => ({ id: visibilityId(id, channel.id), salesChannelId: channel.id, visibility: channel.visibility }));
}

/** Shopware's stock is an integer: a fractional quantity is rounded down, never oversold. */
export function stockOf(qty: number): number {
  return Math.floor(qty);
}

/** Net from a gross price at the target's tax rate, to 4 decimals like Shopware's admin shows. */
export function netOf(gross: number, taxRate: number): number {
  return Math.round((gross / (1 + taxRate / 100)) * 10_000) / 10_000;
}

/** The Shopware currency id of an ISO code; the default currency always has Shopware's fixed id. */
export function currencyId(code: string | null, target: ShopwareTarget): string {
  if (code === null || code.toUpperCase() === target.defaultCurrency.toUpperCase()) return DEFAULT_CURRENCY_ID;
  const id = target.currencies[code] ?? target.currencies[code.toUpperCase()];
  if (id === undefined) {
    throw new PermanentError(`shopware: no currency id for ${code} (add it to targets.shopware.currencies)`, { code: 'shopware_unknown_currency' });
  }
  return id;
}

/** Only what the API takes back: read answers add computed keys (percentage, extensions). */
function writable(entry: ShopwarePrice & Record<string, unknown>): ShopwarePrice {
  const out: ShopwarePrice & Record<string, unknown> = { currencyId: entry.currencyId, gross: entry.gross, net: entry.net, linked: entry.linked };
  for (const key of ['listPrice', 'regulationPrice']) {
    const value = entry[key] as { gross?: unknown; net?: unknown; linked?: unknown } | null | undefined;
    if (value && typeof value === 'object') out[key] = { gross: value.gross, net: value.net, linked: value.linked };
  }
  return out;
}

/**
 * The whole price array to send (a write replaces the array): the shop's entries with this
 * currency's entry replaced. It must hold the default currency; a price in another currency for a
 * product without a default price is refused.
 */
export function priceArray(gross: number, code: string | null, current: readonly ShopwarePrice[] | undefined, target: ShopwareTarget): ShopwarePrice[] {
  const id = currencyId(code, target);
  const entry: ShopwarePrice = { currencyId: id, gross, net: netOf(gross, target.taxRate), linked: true };
  const others = (current ?? []).filter((p) => p.currencyId !== id).map((p) => writable(p as ShopwarePrice & Record<string, unknown>));
  const prices = id === DEFAULT_CURRENCY_ID ? [entry, ...others] : [...others, entry];
  if (!prices.some((p) => p.currencyId === DEFAULT_CURRENCY_ID)) {
    throw new PermanentError(`shopware: a price in ${code} needs a ${target.defaultCurrency} price first (Shopware requires the default currency)`, {
      code: 'shopware_no_default_price',
    });
  }
  return prices;
}

/** A version custom field read back: a decimal string (or a number written by hand); undefined otherwise. */
export function readVersion(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  return undefined;
}
