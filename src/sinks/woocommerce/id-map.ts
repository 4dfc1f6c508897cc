import type { Redis } from 'ioredis';

/** Where a record key lives in the shop: a product, or a variation of `parent`. */
export interface ShopLocation {
  id: number;
  /** The parent product's id when the record is a variation. */
  parent?: number;
}

export function formatLocation(location: ShopLocation): string {
  return location.parent === undefined ? String(location.id) : `${location.parent}/${location.id}`;
}

export function parseLocation(text: string | null | undefined): ShopLocation | undefined {
  if (!text) return undefined;
  const match = /^(?:([0-9]+)\/)?([0-9]+)$/.exec(text);
  if (!match) return undefined;
  return match[1] === undefined ? { id: Number(match[2]) } : { id: Number(match[2]), parent: Number(match[1]) };
}

/**
 * The record key ↔ WooCommerce id mapping of one shop, cached in Redis (one hash per shop). It is a
 * cache: when it is lost the sink finds products again by SKU and their `ragsync_key` meta. Besides
 * the ids it keeps the parents' ids by SKU, the version of each delete (so an older save arriving
 * after a delete stays stale although the product is gone from the shop) and which products had a
 * manual offer logged.
 *
 * Keys: `<prefix>woocommerce:<host>:ids` (record key → `id` or `parent/id`), `…:parents` (parent
 * SKU → id), `…:deleted` (record key → delete version), `…:manual-offers` (product ids).
 */
export class IdMap {
  private readonly ids: string;
  private readonly parents: string;
  private readonly deleted: string;
  private readonly offers: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    host: string,
  ) {
    const base = `${keyPrefix}woocommerce:${host}`;
    this.ids = `${base}:ids`;
    this.parents = `${base}:parents`;
    this.deleted = `${base}:deleted`;
    this.offers = `${base}:manual-offers`;
  }

  async locations(keys: readonly string[]): Promise<Map<string, ShopLocation>> {
    const found = new Map<string, ShopLocation>();
    if (keys.length === 0) return found;
    const values = await this.redis.hmget(this.ids, ...keys);
    keys.forEach((key, i) => {
      const location = parseLocation(values[i]);
      if (location) found.set(key, location);
    });
    return found;
  }

  async deleteVersions(keys: readonly string[]): Promise<Map<string, bigint>> {
    const found = new Map<string, bigint>();
    if (keys.length === 0) return found;
    const values = await this.redis.hmget(this.deleted, ...keys);
    keys.forEach((key, i) => {
      const value = values[i];
      if (value && /^-?[0-9]+$/.test(value)) found.set(key, BigInt(value));
    });
    return found;
  }

  async parentIds(skus: readonly string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (skus.length === 0) return found;
    const values = await this.redis.hmget(this.parents, ...skus);
    skus.forEach((sku, i) => {
      if (values[i] && /^[0-9]+$/.test(values[i]!)) found.set(sku, Number(values[i]));
    });
    return found;
  }

  async rememberParent(sku: string, id: number): Promise<void> {
    await this.redis.hset(this.parents, sku, String(id));
  }

  /** Applies what a write learned: new or adopted locations, forgotten ones, deletes. */
  async update(changes: { set: Map<string, ShopLocation>; forget: Set<string>; deletes: Map<string, bigint> }): Promise<void> {
    const multi = this.redis.multi();
    if (changes.set.size > 0) {
      multi.hset(this.ids, Object.fromEntries([...changes.set].map(([key, location]) => [key, formatLocation(location)])));
      multi.hdel(this.deleted, ...changes.set.keys());
    }
    const forget = [...changes.forget, ...changes.deletes.keys()];
    if (forget.length > 0) multi.hdel(this.ids, ...forget);
    if (changes.deletes.size > 0) multi.hset(this.deleted, Object.fromEntries([...changes.deletes].map(([key, version]) => [key, version.toString()])));
    if (changes.set.size + forget.length > 0) await multi.exec();
    else multi.discard();
  }

  /** True the first time a manual offer is seen on `id` (until {@link manualOfferGone}). */
  async firstManualOffer(id: number): Promise<boolean> {
    return (await this.redis.sadd(this.offers, String(id))) === 1;
  }

  async manualOfferGone(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.redis.srem(this.offers, ...ids.map(String));
  }
}
