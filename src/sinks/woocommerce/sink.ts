import type { Redis } from 'ioredis';
import type { WoocommerceTarget } from '../../config/targets.js';
import { WooClient } from '../../connectors/woocommerce/client.js';
import { itemError } from '../../connectors/woocommerce/errors.js';
import type { WooBatchItem, WooBatchRequest, WooBatchResponse, WooProduct } from '../../connectors/woocommerce/types.js';
import { describeError, findRagsyncError, RetryableError } from '../../core/errors.js';
import { parseKey } from '../../core/keys.js';
import { APPLIED, failed, STALE, type Sink, type SinkRecord, type SinkResult } from '../../core/sink.js';
import type { CallGate, GatedSink } from '../call-gate.js';
import { IdMap, type ShopLocation } from './id-map.js';
import { buildPayload, CLASS_OF_TOPIC, metaValue, META, parentSkuOf, storedVersions, type ChangeFields, type FieldClass } from './payload.js';
import { collectionPath, productsById, productsBySku } from './shop-lookup.js';

type LogFn = (object: object, message: string) => void;
export interface WooSinkLogger {
  info: LogFn;
  warn: LogFn;
  debug: LogFn;
}

export interface WoocommerceSinkOptions {
  /** Holds the key ↔ id mapping (a cache, see id-map.ts). */
  redis: Redis;
  /** Prefix of the sink's Redis keys, e.g. `ragsync:`. */
  keyPrefix: string;
  logger?: WooSinkLogger;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** One record the shop has to look at. */
interface Item {
  index: number;
  key: string;
  cls: FieldClass;
  value: ChangeFields | null;
  version: bigint;
  /** The SKU to find the product by: the value's, else the key's entity id. */
  sku: string;
  skuFromValue: boolean;
  parentSku: string | undefined;
  location?: ShopLocation;
  current?: WooProduct;
}

interface Op {
  item: Item;
  kind: 'create' | 'update' | 'delete';
  parent: number | undefined;
  fields?: Record<string, unknown>;
  keptManualOffer?: boolean;
  wroteSalePrice?: boolean;
}

interface Changes {
  set: Map<string, ShopLocation>;
  forget: Set<string>;
  deletes: Map<string, bigint>;
}

const NOT_FOUND = /invalid_id$|_not_found$/;

/**
 * WooCommerce as a sink (docs/connectors/woocommerce.md): `changes.product` records become whole
 * products, `changes.product_price` and `changes.product_stock` price-only and stock-only updates,
 * each class guarded by its own version in the product's `meta_data`. Writes go through
 * `/products/batch` (variations through `/products/{parent}/variations/batch`) with at most
 * `batchSize` items; an item WooCommerce refuses fails alone with its classified error.
 *
 * Records that are not for this shop are `applied` without a request: keys of another entity type
 * than product, keys whose store id is not in the target's `stores`, other topics, and tombstones
 * of the price and stock aspects (the product's own record decides whether it exists).
 */
export class WoocommerceSink implements Sink, GatedSink {
  readonly target: string;
  private readonly client: WooClient;
  private readonly ids: IdMap;
  private readonly stores: ReadonlySet<number>;
  private gate: CallGate | undefined;

  constructor(
    private readonly config: WoocommerceTarget,
    private readonly options: WoocommerceSinkOptions,
  ) {
    const plain = options.fetch ?? globalThis.fetch;
    this.client = new WooClient(config, { fetch: (input, init) => (this.gate ? this.gate.fetch(plain) : plain)(input, init) });
    this.target = `woocommerce:${this.client.host}`;
    this.ids = new IdMap(options.redis, options.keyPrefix, this.client.host);
    this.stores = new Set(config.stores);
  }

  async connect(): Promise<void> {
    // No connection to open: every call is a request of its own; the mapping lives in the shared Redis.
  }

  async close(): Promise<void> {
    // The Redis connection is the caller's.
  }

  /** The rate limit's gate: every call waits for the shop's Retry-After deadline, which the shared Redis also holds. */
  useCallGate(gate: CallGate): void {
    this.gate = gate;
    gate.watch(this.options.redis);
  }

  async write(records: readonly SinkRecord<unknown>[]): Promise<SinkResult[]> {
    const results: SinkResult[] = new Array(records.length);
    const byKey = new Map<string, Item[]>();
    records.forEach((record, index) => {
      const item = this.itemOf(record, index, results);
      if (item) byKey.set(item.key, [...(byKey.get(item.key) ?? []), item]);
    });
    // Records of one key are applied in order: the n-th record of every key goes in round n.
    const rounds: Item[][] = [];
    for (const items of byKey.values()) items.forEach((item, n) => (rounds[n] ??= []).push(item));
    try {
      for (const round of rounds) await this.writeRound(round, results, 0);
    } catch (error) {
      if (findRagsyncError(error)) throw error;
      throw new RetryableError(`${this.target}: ${describeError(error)}`, { code: 'woocommerce_sink_failed', cause: error });
    }
    return results;
  }

  /** The item of a record, or undefined when its result is already decided. */
  private itemOf(record: SinkRecord<unknown>, index: number, results: SinkResult[]): Item | undefined {
    let entity;
    try {
      entity = parseKey(record.key);
    } catch (error) {
      results[index] = failed(error);
      return undefined;
    }
    const cls = CLASS_OF_TOPIC[record.topic];
    const value = record.value as ChangeFields | null;
    if (entity.entityType !== 'product' || !this.stores.has(entity.storeId) || cls === undefined || (value === null && cls !== 'product')) {
      results[index] = APPLIED;
      return undefined;
    }
    const valueSku = value?.sku ?? undefined;
    return {
      index,
      key: record.key,
      cls,
      value,
      version: record.sourceVersion,
      sku: valueSku || entity.entityId,
      skuFromValue: Boolean(valueSku),
      parentSku: parentSkuOf(value),
    };
  }

  private async writeRound(items: Item[], results: SinkResult[], depth: number): Promise<void> {
    const changes: Changes = { set: new Map(), forget: new Set(), deletes: new Map() };
    const deleted = await this.ids.deleteVersions(items.map((i) => i.key));
    const parents = await this.locate(items, results, changes);
    const ops: Op[] = [];
    for (const item of items) {
      if (results[item.index] !== undefined) continue;
      const op = this.decide(item, parents, deleted.get(item.key), results, changes);
      if (op) ops.push(op);
    }
    const adopted: Item[] = [];
    const groups = new Map<number | undefined, Op[]>();
    for (const op of ops) groups.set(op.parent, [...(groups.get(op.parent) ?? []), op]);
    try {
      for (const [parent, group] of groups) {
        for (let i = 0; i < group.length; i += this.config.batchSize) {
          await this.sendBatch(parent, group.slice(i, i + this.config.batchSize), results, changes, adopted, depth);
        }
      }
    } finally {
      for (const key of changes.set.keys()) changes.forget.delete(key);
      await this.ids.update(changes);
    }
    if (adopted.length > 0) await this.writeRound(adopted, results, depth + 1);
  }

  /** Finds each item's product: by the cached mapping, else by SKU in the shop. Returns the parents' ids by SKU. */
  private async locate(items: Item[], results: SinkResult[], changes: Changes): Promise<Map<string, number>> {
    const cached = await this.ids.locations(items.map((i) => i.key));
    const mapped = new Map<number | undefined, Item[]>();
    for (const item of items) {
      const location = cached.get(item.key);
      if (!location) continue;
      item.location = location;
      mapped.set(location.parent, [...(mapped.get(location.parent) ?? []), item]);
    }
    for (const [parent, group] of mapped) {
      const found = await productsById(this.client, parent, group.map((i) => i.location!.id));
      for (const item of group) {
        item.current = found.get(item.location!.id);
        if (item.current) continue;
        // Deleted in the shop by hand: find it again by SKU, or create it anew.
        item.location = undefined;
        changes.forget.add(item.key);
      }
    }
    const unmapped = items.filter((i) => i.location === undefined);
    const parentSkus = [...new Set(unmapped.map((i) => i.parentSku).filter((s): s is string => s !== undefined))];
    const parents = await this.ids.parentIds(parentSkus);
    const missingParents = parentSkus.filter((sku) => !parents.has(sku));
    if (missingParents.length > 0) {
      for (const [sku, product] of await productsBySku(this.client, undefined, missingParents)) {
        parents.set(sku, product.id);
        await this.ids.rememberParent(sku, product.id);
      }
    }
    const bySkuGroup = new Map<number | undefined, Item[]>();
    for (const item of unmapped) {
      const parent = item.parentSku === undefined ? undefined : parents.get(item.parentSku);
      if (item.parentSku !== undefined && parent === undefined) {
        results[item.index] = failed(
          new RetryableError(`${this.target}: parent product with SKU ${item.parentSku} of ${item.key} is not in the shop yet`, { code: 'woocommerce_parent_missing' }),
        );
        continue;
      }
      bySkuGroup.set(parent, [...(bySkuGroup.get(parent) ?? []), item]);
    }
    for (const [parent, group] of bySkuGroup) {
      const found = await productsBySku(this.client, parent, group.map((i) => i.sku));
      for (const item of group) {
        const product = found.get(item.sku);
        if (!product) continue;
        const owner = metaValue(product, META.key);
        // A SKU named by the record is the product's identity; the key's entity id only when the product is ours or nobody's.
        if (!item.skuFromValue && owner !== undefined && owner !== item.key) continue;
        item.location = parent === undefined ? { id: product.id } : { id: product.id, parent };
        item.current = product;
        changes.set.set(item.key, item.location);
      }
    }
    return parents;
  }

  private decide(item: Item, parents: Map<string, number>, deletedAt: bigint | undefined, results: SinkResult[], changes: Changes): Op | undefined {
    // A variation not in the shop yet is created under its parent.
    const parent = item.location?.parent ?? (item.parentSku === undefined ? undefined : parents.get(item.parentSku));
    if (deletedAt !== undefined && item.version < deletedAt) {
      results[item.index] = STALE;
      return undefined;
    }
    if (item.value === null) {
      const stored = storedVersions(item.current).product;
      if (stored !== undefined && stored > item.version) {
        results[item.index] = STALE;
        return undefined;
      }
      if (!item.location) {
        changes.deletes.set(item.key, item.version);
        results[item.index] = APPLIED;
        return undefined;
      }
      return { item, kind: 'delete', parent };
    }
    if (deletedAt !== undefined && item.version === deletedAt) {
      results[item.index] = STALE;
      return undefined;
    }
    const payload = buildPayload({
      cls: item.cls,
      key: item.key,
      version: item.version,
      value: item.value,
      variation: parent !== undefined,
      current: item.current,
      allowManualOffers: this.config.allowManualOffers,
    });
    if (payload === null) {
      results[item.index] = STALE;
      return undefined;
    }
    if (item.location) return { item, kind: 'update', parent, fields: { id: item.location.id, ...payload.fields }, keptManualOffer: payload.keptManualOffer, wroteSalePrice: payload.wroteSalePrice };
    if (item.cls !== 'product') {
      results[item.index] = failed(new RetryableError(`${this.target}: product ${item.sku} of ${item.key} is not in the shop yet (its product record creates it)`, { code: 'woocommerce_product_missing' }));
      return undefined;
    }
    const fields = item.value.attributes?.product_type === 'variable' ? { type: 'variable', ...payload.fields } : payload.fields;
    return { item, kind: 'create', parent, fields, wroteSalePrice: payload.wroteSalePrice };
  }

  private async sendBatch(parent: number | undefined, ops: Op[], results: SinkResult[], changes: Changes, adopted: Item[], depth: number): Promise<void> {
    const request: WooBatchRequest = {};
    const creates = ops.filter((o) => o.kind === 'create');
    const updates = ops.filter((o) => o.kind === 'update');
    const deletes = ops.filter((o) => o.kind === 'delete');
    if (creates.length > 0) request.create = creates.map((o) => o.fields!);
    if (updates.length > 0) request.update = updates.map((o) => o.fields as Record<string, unknown> & { id: number });
    if (deletes.length > 0) request.delete = deletes.map((o) => o.item.location!.id);
    const path = `${collectionPath(parent)}/batch`;
    const response = await this.client.post<WooBatchResponse>(path, request);
    const answer = response.body ?? {};
    let failures = 0;
    const outcome = (op: Op, result: WooBatchItem | undefined): void => {
      const { item } = op;
      const error = result === undefined ? { code: 'missing_result', message: 'the batch answer has no result for this item', data: { status: 502 } } : result.error;
      if (error === undefined) {
        results[item.index] = APPLIED;
        if (op.kind === 'create') changes.set.set(item.key, parent === undefined ? { id: result!.id } : { id: result!.id, parent });
        if (op.kind === 'delete') changes.deletes.set(item.key, item.version);
        return;
      }
      const code = error.code ?? '';
      if (op.kind === 'delete' && (NOT_FOUND.test(code) || error.data?.status === 404)) {
        results[item.index] = APPLIED;
        changes.deletes.set(item.key, item.version);
        return;
      }
      const owner = error.data?.resource_id;
      if (op.kind === 'create' && code === 'product_invalid_sku' && typeof owner === 'number' && owner > 0 && depth === 0) {
        // The SKU is already in the shop (created by hand or before the mapping was stored): adopt it and update it.
        changes.set.set(item.key, parent === undefined ? { id: owner } : { id: owner, parent });
        adopted.push({ ...item, location: undefined, current: undefined });
        return;
      }
      if (op.kind === 'update' && (NOT_FOUND.test(code) || error.data?.status === 404)) changes.forget.add(item.key);
      failures += 1;
      results[item.index] = failed(itemError(this.client.host, `${op.kind} ${item.sku} (${item.key})`, error));
    };
    creates.forEach((op, i) => outcome(op, answer.create?.[i]));
    updates.forEach((op, i) => outcome(op, answer.update?.[i]));
    deletes.forEach((op, i) => outcome(op, answer.delete?.[i]));
    await this.noteManualOffers(updates, results);
    this.options.logger?.debug({ target: this.target, path, items: ops.length, failed: failures }, 'WooCommerce batch written');
  }

  /** Logs a kept manual sale price once per product, until ragsync writes that product's sale price again. */
  private async noteManualOffers(updates: Op[], results: SinkResult[]): Promise<void> {
    const written = updates.filter((o) => results[o.item.index]?.status === 'applied');
    await this.ids.manualOfferGone(written.filter((o) => o.wroteSalePrice).map((o) => o.item.location!.id));
    for (const op of written.filter((o) => o.keptManualOffer)) {
      if (await this.ids.firstManualOffer(op.item.location!.id)) {
        this.options.logger?.info(
          { target: this.target, key: op.item.key, productId: op.item.location!.id },
          'kept the sale price set in the shop (allowManualOffers): ragsync does not overwrite it while it differs from what ragsync wrote',
        );
      }
    }
  }
}
