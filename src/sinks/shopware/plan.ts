import type { ShopwareTarget } from '../../config/targets.js';
import { DEFAULT_CURRENCY_ID, type ShopwarePrice } from '../../connectors/shopware/types.js';
import { findRagsyncError, PermanentError, RetryableError } from '../../core/errors.js';
import { APPLIED, failed, STALE, type SinkResult } from '../../core/sink.js';
import type { ProductChange, ProductPriceChange, ProductStockChange } from '../../schemas/zod/product.js';
import { CF, priceArray, productFields, productId, stockOf, visibilities } from './mapping.js';

/** What one record asks for, already validated. */
export type Change =
  | { kind: 'save'; value: ProductChange }
  | { kind: 'delete' }
  | { kind: 'price'; value: ProductPriceChange }
  | { kind: 'stock'; value: ProductStockChange };

export interface PlannedRecord {
  /** Position in the write's records. */
  index: number;
  key: string;
  version: bigint;
  change: Change;
}

/** A product as the batch's lookup found it, its guard versions read from its custom fields. */
export interface ShopProduct {
  id: string;
  productNumber?: string;
  /** `ragsync_key`: absent on a product ragsync has not written yet. */
  key?: string;
  version?: bigint;
  priceVersion?: bigint;
  stockVersion?: bigint;
  price?: ShopwarePrice[];
}

/** One item of a sync operation, and the records whose outcome it is. */
export interface Entry {
  op: 'upsert' | 'price' | 'stock' | 'delete';
  key: string;
  payload: Record<string, unknown>;
  records: number[];
  /** A delete: the version to remember once the shop acknowledged it. */
  deletedAt?: bigint;
  /** A product record written after a remembered delete: its version, which forgets the delete once acknowledged. */
  clearsDelete?: bigint;
}

export interface Plan {
  /** Records decided without a write: stale, failed, or applied with nothing to send. */
  decided: Map<number, SinkResult>;
  /** At most one entry per key: the batch's records of a key folded in order. */
  entries: Entry[];
  /** Deletes of products the shop does not have (nothing to send): the versions to remember. */
  tombstones: Map<string, bigint>;
}

interface PendingWrite {
  full: boolean;
  fields: Record<string, unknown>;
  customFields: Record<string, string>;
  records: number[];
}

interface KeyState {
  key: string;
  id: string;
  inShop: boolean;
  exists: boolean;
  hasKey: boolean;
  version?: bigint;
  priceVersion?: bigint;
  stockVersion?: bigint;
  price?: ShopwarePrice[];
  write?: PendingWrite;
  del?: number[];
  /** The version of the key's last delete: remembered (Redis) or of this batch; cleared by a save that recreates. */
  deleted?: bigint;
  /** The delete version remembered before this batch. */
  remembered?: bigint;
}

/**
 * Decides a batch as if its records were written one by one (docs/connectors/shopware.md, the
 * version guard): each key's state starts from the shop's product and moves record by record; what
 * survives is one sync entry per key. A product is the one carrying the key in `ragsync_key`, else
 * the one with the key's deterministic id, else (for a record that names a SKU) the product with
 * that productNumber when no other key owns it: it is updated in place and takes the key.
 * `deleted` holds the remembered delete versions of the batch's keys (Redis): a save, price or
 * stock record not newer than a key's delete is stale, as after a delete earlier in the batch.
 */
export function planBatch(
  records: readonly PlannedRecord[],
  shop: readonly ShopProduct[],
  target: ShopwareTarget,
  deleted: ReadonlyMap<string, bigint> = new Map(),
): Plan {
  const decided = new Map<number, SinkResult>();
  const states = new Map<string, KeyState>();
  const byNumber = new Map(shop.filter((p) => p.productNumber !== undefined).map((p) => [p.productNumber!, p]));

  const stateOf = (key: string, sku: string | null): KeyState => {
    let state = states.get(key);
    if (state !== undefined) return state;
    const id = productId(key);
    let found = shop.find((p) => p.key === key) ?? shop.find((p) => p.id === id);
    if (found === undefined && sku !== null) {
      const numbered = byNumber.get(sku);
      if (numbered !== undefined && numbered.key === undefined) found = numbered;
    }
    state = found
      ? { key, id: found.id, inShop: true, exists: true, hasKey: found.key === key, version: found.version, priceVersion: found.priceVersion, stockVersion: found.stockVersion, price: found.price }
      : { key, id, inShop: false, exists: false, hasKey: false };
    state.deleted = state.remembered = deleted.get(key);
    states.set(key, state);
    return state;
  };

  const pending = (state: KeyState, index: number, full: boolean): PendingWrite => {
    state.write ??= { full: false, fields: { id: state.id }, customFields: {}, records: [] };
    state.write.full ||= full;
    state.write.records.push(index);
    // A product found by its number takes the key with its first write.
    if (!state.hasKey) state.write.customFields[CF.key] = state.key;
    return state.write;
  };

  for (const record of records) {
    const { index, key, version: v, change } = record;
    const sku = change.kind === 'delete' ? null : change.value.sku;
    const state = stateOf(key, sku);
    try {
      if (change.kind === 'save') {
        // Not newer than the key's delete: the shop would get back a product that was deleted after it.
        if ((state.version !== undefined && v < state.version) || (state.deleted !== undefined && v <= state.deleted)) {
          decided.set(index, STALE);
          continue;
        }
        const owner = state.exists ? undefined : byNumber.get(change.value.sku);
        if (owner !== undefined && owner.key !== undefined && owner.key !== key && owner.id !== state.id) {
          throw new PermanentError(`shopware: productNumber ${change.value.sku} belongs to the product of ${owner.key}`, { code: 'shopware_number_taken' });
        }
        const creating = !state.exists;
        const fields = productFields(state.id, change.value);
        const customFields: Record<string, string> = { [CF.key]: key, [CF.version]: String(v) };
        let price: ShopwarePrice[] | undefined;
        if (change.value.price !== null && (state.priceVersion === undefined || v >= state.priceVersion)) {
          price = priceArray(change.value.price, change.value.currency, state.price, target);
          fields.price = price;
          customFields[CF.priceVersion] = String(v);
        } else if (creating) {
          // Shopware needs a price to create: a placeholder, and the product stays inactive.
          fields.price = [{ currencyId: DEFAULT_CURRENCY_ID, gross: 0, net: 0, linked: true }];
        }
        // Never show a product at the placeholder price: active only once ragsync wrote a price
        // (or the product came with one, made by hand).
        const priced = customFields[CF.priceVersion] !== undefined || state.priceVersion !== undefined || (state.inShop && !state.hasKey);
        if (!priced) fields.active = false;
        if (change.value.qty !== null && (state.stockVersion === undefined || v >= state.stockVersion)) {
          fields.stock = stockOf(change.value.qty);
          customFields[CF.stockVersion] = String(v);
        } else if (creating) fields.stock = 0;
        if (creating) {
          fields.taxId = target.taxId;
          fields.visibilities = visibilities(state.id, target);
        }

        const write = pending(state, index, true);
        if (state.del !== undefined) write.records.unshift(...state.del);
        state.del = undefined;
        Object.assign(write.fields, fields);
        Object.assign(write.customFields, customFields);
        state.hasKey = true;
        state.exists = true;
        state.version = v;
        state.deleted = undefined;
        if (customFields[CF.priceVersion] !== undefined) [state.priceVersion, state.price] = [v, price];
        if (customFields[CF.stockVersion] !== undefined) state.stockVersion = v;
      } else if (change.kind === 'delete') {
        if ((state.version !== undefined && v < state.version) || (state.deleted !== undefined && v < state.deleted)) {
          decided.set(index, STALE);
          continue;
        }
        const folded = [...(state.del ?? []), ...(state.write?.records ?? []), index];
        state.write = undefined;
        if (state.inShop) state.del = folded;
        else for (const i of folded) decided.set(i, APPLIED);
        Object.assign(state, { exists: false, version: v, deleted: v, priceVersion: undefined, stockVersion: undefined, price: undefined });
      } else {
        const versionField = change.kind === 'price' ? 'priceVersion' : 'stockVersion';
        if (state.deleted !== undefined && v <= state.deleted) {
          decided.set(index, STALE);
          continue;
        }
        if (!state.exists) {
          if (state.version !== undefined && v < state.version) decided.set(index, STALE);
          else decided.set(index, failed(notYetCreated(key, change.kind)));
          continue;
        }
        const stored = state[versionField];
        if (stored !== undefined && v < stored) {
          decided.set(index, STALE);
          continue;
        }
        const price = change.kind === 'price' ? priceArray(change.value.price, change.value.currency, state.price, target) : undefined;
        const write = pending(state, index, false);
        if (change.kind === 'price') {
          write.fields.price = price;
          write.customFields[CF.priceVersion] = String(v);
          state.price = price;
        } else {
          write.fields.stock = stockOf(change.value.qty);
          write.customFields[CF.stockVersion] = String(v);
        }
        state[versionField] = v;
        state.hasKey = true;
      }
    } catch (error) {
      if (!(findRagsyncError(error) instanceof PermanentError)) throw error;
      decided.set(index, failed(error));
    }
  }

  const entries: Entry[] = [];
  const tombstones = new Map<string, bigint>();
  for (const [key, state] of states) {
    if (state.write !== undefined) {
      const { full, fields, customFields, records: owned } = state.write;
      const op = full ? 'upsert' : fields.price !== undefined ? 'price' : 'stock';
      const entry: Entry = { op, key, payload: { ...fields, customFields }, records: owned };
      if (full && state.remembered !== undefined && state.deleted === undefined) entry.clearsDelete = state.version;
      entries.push(entry);
    }
    if (state.del !== undefined) entries.push({ op: 'delete', key, payload: { id: state.id }, records: state.del, deletedAt: state.deleted });
    else if (state.write === undefined && state.deleted !== undefined && (state.remembered === undefined || state.deleted > state.remembered)) {
      tombstones.set(key, state.deleted);
    }
  }
  return { decided, entries, tombstones };
}

/**
 * An aspect of a product the shop does not have yet: it cannot be created from a price or a stock
 * level (creating needs name, number, tax). Retryable: the product's own record creates it, and a
 * later attempt applies the aspect.
 */
function notYetCreated(key: string, aspect: 'price' | 'stock'): RetryableError {
  return new RetryableError(`shopware: no product for ${key} yet; its ${aspect} waits for the product record`, { code: 'shopware_product_not_created' });
}
