import type { Redis } from 'ioredis';
import { oneLine } from '../../connectors/shopware/errors.js';
import { defineScript, withDeadline } from '../../coordination/redis.js';
import { RetryableError } from '../../core/errors.js';

/**
 * Sets a field to a version unless it holds a newer one (`set`), or removes it when it holds an
 * older one (`clear`): a delete acknowledged late never lowers a newer delete's version, and a save
 * never forgets a delete newer than itself. Versions are decimal integers of any length.
 * ARGV: op, field, version, repeated.
 */
const UPDATE_SCRIPT = `
local function older(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then return na end
  if na then a, b = b:sub(2), a:sub(2) end
  if #a ~= #b then return #a < #b end
  return a < b
end
for i = 1, #ARGV, 3 do
  local op, field, version = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local stored = redis.call('HGET', KEYS[1], field)
  if op == 'set' then
    if not stored or older(stored, version) then redis.call('HSET', KEYS[1], field, version) end
  elseif stored and older(stored, version) then
    redis.call('HDEL', KEYS[1], field)
  end
end
return 0
`;

/** A hung Redis must not hold a write longer than this, whatever client options it was made with. */
const DEADLINE_MS = 5_000;

/**
 * The versions of the deletes a shop acknowledged, per record key, in one Redis hash per shop:
 * `<prefix>shopware:<host>:deleted`, field = record key, value = decimal version. Shopware keeps
 * nothing of a deleted product, so this hash is what makes a save older than the delete `stale`
 * when it arrives later (from a retry tier or a DLQ replay). Unlike a cache it must not be lost:
 * without it such a save creates the product again.
 */
export class DeleteVersions {
  readonly key: string;
  private readonly runUpdate: (...args: (string | number)[]) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    private readonly host: string,
  ) {
    this.key = `${keyPrefix}shopware:${host}:deleted`;
    this.runUpdate = defineScript(redis, 'ragsyncShopwareDeleted', UPDATE_SCRIPT, 1);
  }

  /** The delete versions of `keys`, in one HMGET. */
  async read(keys: readonly string[]): Promise<Map<string, bigint>> {
    const found = new Map<string, bigint>();
    if (keys.length === 0) return found;
    const values = await this.guard('read', () => this.redis.hmget(this.key, ...keys));
    keys.forEach((key, i) => {
      const value = values[i];
      if (typeof value === 'string' && /^-?\d+$/.test(value)) found.set(key, BigInt(value));
    });
    return found;
  }

  /**
   * Remembers acknowledged deletes (`remember`: key → delete version) and forgets the deletes that
   * acknowledged saves made obsolete (`forget`: key → the save's version), in one call.
   */
  async update(remember: ReadonlyMap<string, bigint>, forget: ReadonlyMap<string, bigint>): Promise<void> {
    if (remember.size === 0 && forget.size === 0) return;
    const args = [
      ...[...remember].flatMap(([key, version]) => ['set', key, version.toString()]),
      ...[...forget].flatMap(([key, version]) => ['clear', key, version.toString()]),
    ];
    await this.guard('write', () => this.runUpdate(this.key, ...args));
  }

  private async guard<T>(what: 'read' | 'write', call: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(call(), DEADLINE_MS, this.key);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RetryableError(`shopware ${this.host}: could not ${what} the delete versions in Redis: ${oneLine(reason, 200)}`, {
        code: 'shopware_deletes_unavailable',
        cause: error,
      });
    }
  }
}
