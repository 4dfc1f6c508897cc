import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { defineScript, LUA_NOW, withDeadline } from '../coordination/redis.js';
import { RateLimitedError } from '../core/signals.js';
import type { Sink } from '../core/sink.js';

/**
 * The Retry-After deadline of an endpoint, checked before every HTTP call a sink makes, not only
 * before each write (docs/sinks.md "Rate limits and Retry-After"). A write makes many calls
 * (lookups, batches, the halves of record isolation) and the writes of other partitions and push
 * groups are in flight at the same time: a deadline read once per write let them all go on calling
 * after a 429.
 *
 * One gate per endpoint and process, shared by every stage of the process, so a deadline is a
 * field read per call. The gate learns a deadline from an answer of any call of this process (and
 * publishes it to Redis at once, through the limiter, for the other replicas), from the limiter's
 * check at the start of each write, and, at most every `REFRESH_MS` while calls are made, from
 * Redis itself, so a replica also stops calling in the middle of a write when another one was told
 * to wait.
 */
export interface GateLimiter {
  blockFor(endpoint: string, delayMs: number): Promise<void>;
  /** The endpoint's hash in Redis (`RedisRateLimiter.key`); without it no Redis refresh. */
  key?(endpoint: string): string;
}

/** How often a gate reads the shared deadline from Redis while calls are made. */
const REFRESH_MS = 250;
const REDIS_DEADLINE_MS = 1000;

/** KEYS[1] = the endpoint's bucket (rate-limiter-scripts.ts); ARGV = now|''. Returns the wait until its deadline, 0 when none. */
const BLOCKED_LUA = `${LUA_NOW}
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if blocked > now then return blocked - now end
return 0`;

export class CallGate {
  /** Epoch ms (this process's clock) before which no call is made. */
  private until = 0;
  private redis: Redis | undefined;
  private readScript: ((...args: (string | number)[]) => Promise<unknown>) | undefined;
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    readonly endpoint: string,
    private readonly limiter: GateLimiter,
    /** Longest wait inside a call; a longer deadline throws RateLimitedError, as the wrapper's `maxWaitMs`. */
    private readonly maxWaitMs: number,
  ) {}

  /** The Redis the limiter keeps its deadlines in: the gate then also reads them from there. */
  watch(redis: Redis): void {
    if (this.redis || !this.limiter.key) return;
    this.redis = redis;
    this.readScript = defineScript(redis, 'ragsyncRateBlocked', BLOCKED_LUA, 1);
  }

  /** Milliseconds until the deadline this process knows, 0 when none. */
  waitMs(): number {
    return Math.max(0, this.until - Date.now());
  }

  /** A deadline learnt elsewhere (the limiter's check, Redis): kept here, not published again. */
  learn(delayMs: number): void {
    if (Number.isFinite(delayMs) && delayMs > 0) this.until = Math.max(this.until, Date.now() + Math.ceil(delayMs));
  }

  /** The target named a wait: every call of this process holds back now, every replica once Redis has it. */
  hold(delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs <= 0) return;
    this.learn(delayMs);
    void this.limiter.blockFor(this.endpoint, delayMs).catch(() => undefined);
  }

  /**
   * Before a call: waits out a deadline of at most `maxWaitMs`; a longer one throws
   * RateLimitedError, so the stage pauses instead of a sleep Kafka would take for a dead member.
   */
  async pass(): Promise<void> {
    for (;;) {
      await this.refresh();
      const waitMs = this.waitMs();
      if (waitMs === 0) return;
      if (waitMs > this.maxWaitMs) throw new RateLimitedError(this.endpoint, waitMs, 'blocked');
      await sleep(waitMs);
    }
  }

  /** `fetch` through the gate: no request before the deadline, and an answer's Retry-After (429, 408, 5xx) holds every other call back. */
  fetch(inner: typeof fetch): typeof fetch {
    return async (input, init) => {
      await this.pass();
      const response = await inner(input, init);
      if (response.status === 429 || response.status === 408 || response.status >= 500) {
        const waitMs = parseRetryAfter(response.headers.get('retry-after'));
        if (waitMs !== undefined) this.hold(waitMs);
      }
      return response;
    };
  }

  private async refresh(): Promise<void> {
    if (!this.readScript || !this.limiter.key || Date.now() - this.refreshedAt < REFRESH_MS) return;
    this.refreshing ??= (async () => {
      try {
        const waitMs = Number(await withDeadline(this.readScript!(this.limiter.key!(this.endpoint), ''), REDIS_DEADLINE_MS, 'call gate'));
        this.learn(waitMs);
      } catch {
        // Fail open, as the limiter: the deadline this process knows still holds.
      } finally {
        this.refreshedAt = Date.now();
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }
}

/** Seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Gates by endpoint, one per process: the push groups of a shop (product, price, stock) each have
 * their own limiter, but share the shop's deadline. Keyed by the endpoint's Redis key when the
 * limiter has one (its key prefix keeps pipelines with other prefixes apart), else per limiter.
 */
const shared = new Map<string, CallGate>();
const byLimiter = new WeakMap<GateLimiter, Map<string, CallGate>>();

export function callGate(limiter: GateLimiter, endpoint: string, maxWaitMs: number): CallGate {
  const map = limiter.key ? shared : (byLimiter.get(limiter) ?? byLimiter.set(limiter, new Map()).get(limiter)!);
  const id = limiter.key ? limiter.key(endpoint) : endpoint;
  let gate = map.get(id);
  if (!gate) map.set(id, (gate = new CallGate(endpoint, limiter, maxWaitMs)));
  return gate;
}

/** A sink whose HTTP calls can go through a gate (the shop and webhook sinks). */
export interface GatedSink {
  useCallGate(gate: CallGate): void;
}

export function isGatedSink(sink: Sink<unknown>): sink is Sink<unknown> & GatedSink {
  return typeof (sink as Partial<GatedSink>).useCallGate === 'function';
}
