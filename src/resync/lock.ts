import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

/**
 * One resync per collection at a time: a Redis key set only when absent, with a lease that the
 * holder renews while it runs. A holder that dies without releasing it frees the collection once
 * the lease runs out. Released only by its holder (the value is compared in a script).
 */
export interface LockHolder {
  /** Host and process id of the holder, and since when it holds the lock. */
  owner: string;
  since: string;
}

export class ResyncLockedError extends Error {
  override readonly name = 'ResyncLockedError';
  constructor(
    readonly key: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      `a resync of this collection is already running${holder ? ` (${holder.owner}, since ${holder.since})` : ''}: ` +
        `wait for it to finish, or stop it (Ctrl-C) first; the lock (${key}) expires by itself when its holder is gone`,
    );
  }
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export class ResyncLock {
  private readonly token: string;
  private timer: NodeJS.Timeout | undefined;
  /** Set when a renewal found the lock gone or taken: the resync must stop. */
  lost = false;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly leaseMs = 30_000,
  ) {
    this.token = JSON.stringify({ owner: `${hostname()} pid ${process.pid}`, since: new Date().toISOString(), nonce: randomBytes(6).toString('hex') });
  }

  async acquire(): Promise<void> {
    const ok = await this.redis.set(this.key, this.token, 'PX', this.leaseMs, 'NX');
    if (ok !== 'OK') {
      const value = await this.redis.get(this.key);
      let holder: LockHolder | undefined;
      try {
        holder = value === null ? undefined : (JSON.parse(value) as LockHolder);
      } catch {
        holder = undefined;
      }
      throw new ResyncLockedError(this.key, holder);
    }
    this.timer = setInterval(() => {
      this.redis
        .eval(RENEW, 1, this.key, this.token, String(this.leaseMs))
        .then((renewed) => {
          if (renewed !== 1) this.lost = true;
        })
        // A failed renewal is tried again at the next interval; the lease outlasts two of them.
        .catch(() => undefined);
    }, Math.floor(this.leaseMs / 3));
    this.timer.unref();
  }

  async release(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
