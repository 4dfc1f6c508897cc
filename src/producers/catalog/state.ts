import type { Redis } from 'ioredis';
import type { RecordFingerprint } from './canonical.js';

/** Where one catalog's state lives: per tenant, entity type and store. */
export interface CatalogScope {
  tenant: string;
  type: string;
  storeId: number;
}

/**
 * The fingerprints of the last acknowledged sync, in the Redis hash
 * `<prefix>catalog:<tenant>:<type>:<store>` (field = entity id, value = JSON fingerprint), and the
 * scan clock beside it. The state moves only after Kafka acknowledged the records it describes,
 * so an interrupted sync republishes what was not acknowledged.
 */
export class CatalogState {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    scope: CatalogScope,
    keyPrefix: string,
  ) {
    this.key = `${keyPrefix}catalog:${scope.tenant}:${scope.type}:${scope.storeId}`;
  }

  async load(): Promise<Map<string, RecordFingerprint>> {
    const state = new Map<string, RecordFingerprint>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.key, cursor, 'COUNT', 1000);
      for (let i = 0; i < flat.length; i += 2) state.set(flat[i]!, JSON.parse(flat[i + 1]!) as RecordFingerprint);
      cursor = next;
    } while (cursor !== '0');
    return state;
  }

  async apply(saved: ReadonlyArray<{ id: string; fingerprint: RecordFingerprint }>, deleted: readonly string[]): Promise<void> {
    const pipeline = this.redis.multi();
    if (saved.length > 0) pipeline.hset(this.key, Object.fromEntries(saved.map((s) => [s.id, JSON.stringify(s.fingerprint)])));
    if (deleted.length > 0) pipeline.hdel(this.key, ...deleted);
    await pipeline.exec();
  }

  /**
   * The time of a new scan in epoch ms, strictly above the previous scan's even if the clock went
   * back: versions are this × 1e6 + row, so they never go down for an entity.
   */
  async nextScanMillis(now = Date.now()): Promise<number> {
    const script = "local p = tonumber(redis.call('GET', KEYS[1]) or '0'); local n = math.max(p + 1, tonumber(ARGV[1])); redis.call('SET', KEYS[1], string.format('%d', n)); return string.format('%d', n)";
    return Number(await this.redis.eval(script, 1, `${this.key}:clock`, String(now)));
  }
}
