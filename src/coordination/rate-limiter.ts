import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { describeError } from '../core/errors.js';
import { RateLimitedError } from './errors.js';
import { BLOCK_LUA, TAKE_LUA } from './rate-limiter-scripts.js';
import { defineScript, ThrottledWarning, withDeadline, type CoordinationLogger, type ScriptArg } from './redis.js';

/**
 * Rate limits per external endpoint (an embedding API, a shop's REST API), shared by every replica
 * through a token bucket in Redis (docs/design.md §4), and the pause a target asks for with a 429's
 * `Retry-After`: after `blockFor`/`blockUntil` no replica calls the endpoint before the deadline.
 *
 * Redis unreachable: the limiter fails open, like the breaker. Redis is coordination only; too
 * many calls cost a 429 from the endpoint, which is a retryable error the failure policy waits
 * out, while failing closed would stop every call whenever Redis blinks. Deadlines this process
 * set or saw are kept in memory and still honoured then. A warning goes to the log (throttled).
 */
export interface BucketLimit {
  /** Tokens added per second, continuously. */
  ratePerSecond: number;
  /** Most tokens held at once: the largest burst after a quiet spell. */
  burst: number;
}

export interface RateLimiterOptions {
  /** `config.redis.keyPrefix`; the bucket of an endpoint is the hash `<prefix>ratelimit:<endpoint>`. */
  keyPrefix: string;
  /** Limits by endpoint name. */
  limits?: Record<string, BucketLimit>;
  /** The limit of an endpoint not in `limits`; without one such an endpoint has no rate, only the deadlines of `blockUntil`. */
  defaultLimit?: BucketLimit;
  /** Longest wait for Redis before failing open. @defaultValue 1000 */
  redisTimeoutMs?: number;
  logger?: CoordinationLogger;
  /** Epoch ms for the scripts; without it they read Redis's own clock, one clock for all replicas. Tests pass a controlled one. */
  clock?: () => number;
}

export type TakeResult = { ok: true; degraded?: boolean } | { ok: false; waitMs: number; reason: 'rate' | 'blocked' };

export class RedisRateLimiter {
  private readonly takeScript: (...args: ScriptArg[]) => Promise<unknown>;
  private readonly blockScript: (...args: ScriptArg[]) => Promise<unknown>;
  private readonly warning: ThrottledWarning;
  private readonly redisTimeoutMs: number;
  /** Deadlines (this process's clock) per endpoint, honoured when Redis does not answer. */
  private readonly knownBlocks = new Map<string, number>();

  /** Uses `redis` as it is; the caller owns it (see `createCoordinationRedis`). */
  constructor(
    redis: Redis,
    private readonly options: RateLimiterOptions,
  ) {
    for (const [endpoint, limit] of Object.entries({ ...options.limits, ...(options.defaultLimit ? { '(default)': options.defaultLimit } : {}) })) {
      if (!(limit.ratePerSecond > 0) || !Number.isFinite(limit.ratePerSecond)) throw new RangeError(`rate limit of ${endpoint}: ratePerSecond must be a positive number`);
      if (!(limit.burst >= 1) || !Number.isFinite(limit.burst)) throw new RangeError(`rate limit of ${endpoint}: burst must be at least 1`);
    }
    this.redisTimeoutMs = options.redisTimeoutMs ?? 1000;
    this.takeScript = defineScript(redis, 'ragsyncRateTake', TAKE_LUA, 1);
    this.blockScript = defineScript(redis, 'ragsyncRateBlock', BLOCK_LUA, 1);
    this.warning = new ThrottledWarning(options.logger, 30_000);
  }

  key(endpoint: string): string {
    return `${this.options.keyPrefix}ratelimit:${endpoint}`;
  }

  limitOf(endpoint: string): BucketLimit | undefined {
    return this.options.limits?.[endpoint] ?? this.options.defaultLimit;
  }

  /** Takes `tokens` from the endpoint's bucket if it holds them; otherwise says how long to wait (nothing is taken). */
  async take(endpoint: string, tokens = 1): Promise<TakeResult> {
    const limit = this.limitOf(endpoint);
    if (!Number.isSafeInteger(tokens) || tokens < 1) throw new RangeError(`tokens must be a positive integer, got ${tokens}`);
    if (limit && tokens > limit.burst) throw new RangeError(`${endpoint}: ${tokens} tokens at once can never be granted (burst ${limit.burst})`);
    let reply: [number, number, string];
    try {
      const call = this.takeScript(this.key(endpoint), this.now(), limit?.ratePerSecond ?? 0, limit?.burst ?? 0, tokens);
      reply = (await withDeadline(call, this.redisTimeoutMs, 'rate limiter')) as typeof reply;
    } catch (error) {
      const waitMs = (this.knownBlocks.get(endpoint) ?? 0) - Date.now();
      if (waitMs > 0) return { ok: false, waitMs, reason: 'blocked' };
      this.warning.warn({ endpoint, err: describeError(error) }, 'rate limiter: Redis unavailable; calls go through (fail open)');
      return { ok: true, degraded: true };
    }
    const [granted, waitMs, reason] = reply;
    if (granted === 1) return { ok: true };
    if (reason === 'blocked') this.knownBlocks.set(endpoint, Date.now() + waitMs);
    return { ok: false, waitMs, reason: reason === 'blocked' ? 'blocked' : 'rate' };
  }

  /**
   * Waits for the tokens when that takes at most `maxWaitMs`; otherwise throws
   * {@link RateLimitedError} at once with the wait as its Retry-After, so the caller pauses its
   * partition instead of holding it in a long sleep that Kafka would take for a dead member.
   */
  async waitFor(endpoint: string, tokens = 1, options: { maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const deadline = Date.now() + (options.maxWaitMs ?? 0);
    for (;;) {
      const result = await this.take(endpoint, tokens);
      if (result.ok) return;
      if (Date.now() + result.waitMs > deadline) throw new RateLimitedError(endpoint, result.waitMs, result.reason);
      await sleep(result.waitMs, undefined, { signal: options.signal });
    }
  }

  /**
   * No replica calls `endpoint` for `delayMs` (a 429's `Retry-After: <seconds>`). A later deadline
   * already set stays. Never throws: when Redis does not answer, this process alone keeps the
   * deadline.
   */
  async blockFor(endpoint: string, delayMs: number): Promise<void> {
    if (!Number.isFinite(delayMs) || delayMs <= 0) return;
    const ms = Math.ceil(delayMs);
    this.knownBlocks.set(endpoint, Math.max(this.knownBlocks.get(endpoint) ?? 0, Date.now() + ms));
    const limit = this.limitOf(endpoint);
    try {
      const call = this.blockScript(this.key(endpoint), this.now(), ms, limit?.ratePerSecond ?? 0, limit?.burst ?? 0);
      await withDeadline(call, this.redisTimeoutMs, 'rate limiter');
    } catch (error) {
      this.warning.warn({ endpoint, err: describeError(error) }, 'rate limiter: Redis unavailable; the Retry-After is kept by this process only');
    }
  }

  /** As {@link blockFor}, with an absolute deadline (a `Retry-After` HTTP date) in epoch ms of `clock` (or the local clock). */
  blockUntil(endpoint: string, untilMs: number): Promise<void> {
    return this.blockFor(endpoint, untilMs - (this.options.clock ?? Date.now)());
  }

  private now(): ScriptArg {
    return this.options.clock ? Math.floor(this.options.clock()) : '';
  }
}
