import type { Redis } from 'ioredis';
import type { ShopwareTarget } from '../../config/targets.js';
import { ShopwareClient } from '../../connectors/shopware/client.js';
import { PermanentError } from '../../core/errors.js';
import { parseKey } from '../../core/keys.js';
import { APPLIED, failed, type Sink, type SinkRecord, type SinkResult } from '../../core/sink.js';
import type { Logger } from '../../observability/logger.js';
import { productChangeSchema, productPriceChangeSchema, productStockChangeSchema } from '../../schemas/zod/product.js';
import type { CallGate, GatedSink } from '../call-gate.js';
import { applyEntries } from './apply.js';
import { DeleteVersions } from './deletes.js';
import { lookupProducts, type LookupKey } from './lookup.js';
import { planBatch, type Change, type Entry, type PlannedRecord } from './plan.js';

export interface ShopwareSinkOptions {
  logger?: Logger;
  fetch?: typeof fetch;
  /**
   * Where the versions of acknowledged deletes live (`<keyPrefix>shopware:<host>:deleted`), so a save
   * older than a delete stays `stale` after the product is gone. The connection is the caller's.
   * Without it a delete leaves nothing behind (docs/connectors/shopware.md, Deletes).
   */
  redis?: Redis;
  /** Prefix of the sink's Redis keys. @defaultValue `ragsync:` */
  keyPrefix?: string;
}

/** Counts of the last write, for logs and tests. */
export interface ShopwareWriteStats {
  applied: number;
  stale: number;
  failed: number;
  /** Records that needed no request: other stores, other entity types, aspect tombstones. */
  skipped: number;
  syncRequests: number;
  searchRequests: number;
}

/**
 * Shopware 6 as a sink (docs/connectors/shopware.md). One `write` reads the shop's products of the
 * batch's keys in one search (the version guard) and, with Redis, their delete versions in one
 * HMGET at the same time, folds the records of each key in order, and writes what is left in sync
 * requests of `batchSize` entries under `indexing-behavior: use-queue-indexing`. A record the shop
 * refuses fails alone with Shopware's detail; the others are written. Deletes the shop acknowledged
 * are remembered in Redis, so an older save arriving later stays `stale`.
 */
export class ShopwareSink implements Sink<unknown>, GatedSink {
  readonly target: string;
  readonly client: ShopwareClient;
  lastWrite: ShopwareWriteStats | undefined;
  private readonly stores: Set<number>;
  private readonly logger: Logger | undefined;
  private readonly deletes: DeleteVersions | undefined;
  private gate: CallGate | undefined;
  private readonly redis: Redis | undefined;

  constructor(
    private readonly config: ShopwareTarget,
    options: ShopwareSinkOptions = {},
  ) {
    const plain = options.fetch ?? globalThis.fetch;
    this.client = new ShopwareClient({
      url: config.url,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      timeoutMs: config.timeoutMs,
      ...options,
      fetch: (input, init) => (this.gate ? this.gate.fetch(plain) : plain)(input, init),
    });
    this.target = `shopware:${this.client.host}`;
    this.stores = new Set(config.stores);
    this.logger = options.logger?.child({ target: this.target });
    this.deletes = options.redis ? new DeleteVersions(options.redis, options.keyPrefix ?? 'ragsync:', this.client.host) : undefined;
    this.redis = options.redis;
  }

  /** The rate limit's gate: every call, the token's included, waits for the shop's Retry-After deadline. */
  useCallGate(gate: CallGate): void {
    this.gate = gate;
    if (this.redis) gate.watch(this.redis);
  }

  /** Fetches a token: wrong credentials fail here, before any record. */
  async connect(): Promise<void> {
    await this.client.accessToken();
  }

  /** The Redis connection is the caller's: nothing to release. */
  async close(): Promise<void> {}

  async write(records: readonly SinkRecord<unknown>[]): Promise<SinkResult[]> {
    const results: (SinkResult | undefined)[] = new Array(records.length);
    const stats: ShopwareWriteStats = { applied: 0, stale: 0, failed: 0, skipped: 0, syncRequests: 0, searchRequests: 0 };
    const planned: PlannedRecord[] = [];
    records.forEach((record, index) => {
      try {
        const change = this.changeOf(record);
        if (change === undefined) {
          results[index] = APPLIED;
          stats.skipped += 1;
        } else planned.push({ index, key: record.key, version: record.sourceVersion, change });
      } catch (error) {
        results[index] = failed(error);
      }
    });

    if (planned.length > 0) {
      const keys = new Map<string, LookupKey>();
      for (const { key, change } of planned) {
        const entry = keys.get(key) ?? { key, skus: [] };
        if (change.kind !== 'delete' && change.value.sku !== null) entry.skus.push(change.value.sku);
        keys.set(key, entry);
      }
      const [shop, deleted] = await Promise.all([
        lookupProducts((criteria) => ((stats.searchRequests += 1), this.client.searchProducts(criteria)), [...keys.values()]),
        this.deletes ? this.deletes.read([...keys.keys()]) : new Map<string, bigint>(),
      ]);
      const { decided, entries, tombstones } = planBatch(planned, shop, this.config, deleted);
      for (const [index, result] of decided) results[index] = result;
      // Deletes of products the shop does not have: nothing to acknowledge, the lookup saw them gone.
      await this.deletes?.update(tombstones, new Map());
      const refused = new Map<Entry, unknown>();
      for (let start = 0; start < entries.length; start += this.config.batchSize) {
        const chunk = entries.slice(start, start + this.config.batchSize);
        const answer = await applyEntries(
          chunk,
          (body) => ((stats.syncRequests += 1), this.client.sync(body, { indexingBehavior: 'use-queue-indexing' })),
          this.client.host,
        );
        for (const [entry, error] of answer) refused.set(entry, error);
        // Only what the shop acknowledged, chunk by chunk: a later chunk that throws loses nothing already written.
        await this.rememberDeletes(chunk.filter((entry) => !answer.has(entry)));
      }
      for (const entry of entries) {
        const error = refused.get(entry);
        for (const index of entry.records) results[index] = error === undefined ? APPLIED : failed(error);
        if (error !== undefined) this.logger?.warn({ key: entry.key, error: (error as Error).message }, 'shopware refused a product');
      }
    }

    const final = results.map((result) => result ?? failed(new PermanentError('shopware: record left without a result', { code: 'shopware_internal' })));
    for (const result of final) {
      if (result.status === 'stale') stats.stale += 1;
      else if (result.status === 'failed') stats.failed += 1;
    }
    stats.applied = final.length - stats.stale - stats.failed - stats.skipped;
    this.lastWrite = stats;
    this.logger?.debug(stats, 'shopware write');
    return final;
  }

  /** Remembers the acknowledged deletes and forgets those an acknowledged save made obsolete. */
  private async rememberDeletes(acknowledged: readonly Entry[]): Promise<void> {
    if (this.deletes === undefined) return;
    const remember = new Map<string, bigint>();
    const forget = new Map<string, bigint>();
    for (const entry of acknowledged) {
      if (entry.deletedAt !== undefined) remember.set(entry.key, entry.deletedAt);
      if (entry.clearsDelete !== undefined) forget.set(entry.key, entry.clearsDelete);
    }
    await this.deletes.update(remember, forget);
  }

  /** What a record asks of the shop, or undefined when it is not for this shop (no request). */
  private changeOf(record: SinkRecord<unknown>): Change | undefined {
    const topic = record.topic;
    if (!topic.startsWith('changes.')) throw new PermanentError(`shopware sink cannot handle topic ${topic}`, { code: 'unexpected_topic' });
    const key = parseKey(record.key);
    if (!this.stores.has(key.storeId) || key.entityType !== 'product') return undefined;
    if (topic === 'changes.product') {
      return record.value === null ? { kind: 'delete' } : { kind: 'save', value: parse(productChangeSchema, record) };
    }
    // A price or stock tombstone: Shopware cannot be without a price or a stock, so nothing changes.
    if (record.value === null) return undefined;
    if (topic === 'changes.product_price') return { kind: 'price', value: parse(productPriceChangeSchema, record) };
    if (topic === 'changes.product_stock') return { kind: 'stock', value: parse(productStockChangeSchema, record) };
    return undefined;
  }
}

function parse<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, record: SinkRecord<unknown>): T {
  const parsed = schema.safeParse(record.value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new PermanentError(`shopware: ${record.topic} value of ${record.key}: ${issue.path.map(String).join('.') || 'value'} ${issue.message}`, { code: 'invalid_record' });
}
