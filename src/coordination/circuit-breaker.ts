import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { describeError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { breakerOutcome, type BreakerOutcome } from './breaker-outcome.js';
import { ACQUIRE_LUA, PEEK_LUA, REPORT_LUA } from './circuit-breaker-scripts.js';
import { CircuitOpenError } from './errors.js';
import { defineScript, ThrottledWarning, withDeadline, type CoordinationLogger, type ScriptArg } from './redis.js';

/**
 * A circuit breaker per target (a store, a shop API), its state shared by every replica through
 * Redis (docs/design.md §4, Magento plan §7.4): after `failureThreshold` consecutive retryable
 * failures the circuit opens for `openMs`; then it is half-open and lets `halfOpenProbes` calls
 * through, across all replicas; a probe that succeeds closes it, one that fails opens it again.
 * What counts as a failure is {@link breakerOutcome}: only a RetryableError from the target.
 *
 * Usage around one call (or one batch) to the target:
 *
 * ```ts
 * const admission = await breaker.acquire('qdrant');
 * if (!admission.allowed) throw new CircuitOpenError('qdrant', admission.waitMs); // or pause
 * try { await write(); await breaker.success(admission); }
 * catch (error) { await breaker.failure(admission, error); throw error; }
 * ```
 * or `breaker.call('qdrant', write)`, which does exactly that. The outcome is reported with the
 * admission (not just the target name) so that a probe's answer is told apart from a late answer
 * to a call made before the circuit opened: only the probe decides.
 *
 * Redis unreachable: the breaker fails open. Redis is coordination only; a call to a target that
 * is down costs a retry (the failure policy backs off and nothing is lost), while failing closed
 * would stop every sink of every replica whenever Redis blinks, though the targets are fine. The
 * last answer Redis gave is kept: a target this process last saw open stays refused until its
 * open time ends. A warning goes to the log (throttled) while Redis is away.
 */
export interface CircuitBreakerOptions {
  /** `config.redis.keyPrefix`; the state of a target is the hash `<prefix>circuit:<target>`. */
  keyPrefix: string;
  /** Consecutive retryable failures that open the circuit. @defaultValue 5 */
  failureThreshold?: number;
  /** How long an open circuit refuses calls before it lets probes through. @defaultValue 300000 (5 min) */
  openMs?: number;
  /** Calls let through at once while half-open, across all replicas. @defaultValue 1 */
  halfOpenProbes?: number;
  /** A probe that reports nothing within this frees its slot (its replica died). @defaultValue 60000 */
  probeTimeoutMs?: number;
  /** Longest wait told to a caller refused because the probe slots are taken. @defaultValue 5000 */
  probeWaitMs?: number;
  /** A run of failures that nothing added to for this long is forgotten; also what every key outlives its open time or probe lease by. @defaultValue 3600000 (1 h) */
  idleTtlMs?: number;
  /** Longest wait for Redis before failing open. @defaultValue 1000 */
  redisTimeoutMs?: number;
  /** Where opening and closing are logged (error level) and a missing Redis warned about. */
  logger?: CoordinationLogger;
  /** Sets `ragsync_circuit_state{target}` to what this process last saw. */
  metrics?: Pick<Metrics, 'circuitState'>;
  /** Epoch ms for the scripts; without it they read Redis's own clock, one clock for all replicas. Tests pass a controlled one. */
  clock?: () => number;
}

export const CIRCUIT_BREAKER_DEFAULTS = {
  failureThreshold: 5,
  openMs: 5 * 60_000,
  halfOpenProbes: 1,
  probeTimeoutMs: 60_000,
  probeWaitMs: 5_000,
  idleTtlMs: 3_600_000,
  redisTimeoutMs: 1_000,
} satisfies Required<Omit<CircuitBreakerOptions, 'keyPrefix' | 'logger' | 'metrics' | 'clock'>>;

export type CircuitState = 'closed' | 'half-open' | 'open';

/** A call may go ahead; report its outcome with this object. `degraded`: Redis did not answer. */
export interface CircuitPermit {
  allowed: true;
  target: string;
  probe: boolean;
  probeId?: string;
  degraded?: boolean;
}
export interface CircuitRefusal {
  allowed: false;
  target: string;
  state: Exclude<CircuitState, 'closed'>;
  /** Epoch ms (this process's clock) after which a call may be allowed again. */
  retryAt: number;
  waitMs: number;
}
export type CircuitAdmission = CircuitPermit | CircuitRefusal;

export interface CircuitSnapshot {
  target: string;
  state: CircuitState;
  /** Consecutive failures counted while closed. */
  failures: number;
  /** While open: time until half-open. */
  waitMs: number;
  /** While half-open: probes out now. */
  probes: number;
}

const GAUGE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };
const fromLua = (state: string): CircuitState => (state === 'half_open' ? 'half-open' : state === 'open' ? 'open' : 'closed');

export class RedisCircuitBreaker {
  private readonly settings: typeof CIRCUIT_BREAKER_DEFAULTS;
  private readonly acquireScript: (...args: ScriptArg[]) => Promise<unknown>;
  private readonly reportScript: (...args: ScriptArg[]) => Promise<unknown>;
  private readonly peekScript: (...args: ScriptArg[]) => Promise<unknown>;
  private readonly warning: ThrottledWarning;
  /** Until when (this process's clock) each target was last seen open: what is honoured without Redis. */
  private readonly knownOpen = new Map<string, number>();

  /** Uses `redis` as it is; the caller owns it (see `createCoordinationRedis`). */
  constructor(
    private readonly redis: Redis,
    private readonly options: CircuitBreakerOptions,
  ) {
    const settings = { ...CIRCUIT_BREAKER_DEFAULTS };
    for (const name of Object.keys(CIRCUIT_BREAKER_DEFAULTS) as Array<keyof typeof CIRCUIT_BREAKER_DEFAULTS>) {
      const value = options[name] ?? CIRCUIT_BREAKER_DEFAULTS[name];
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`circuit breaker: ${name} must be a positive integer, got ${value}`);
      settings[name] = value;
    }
    this.settings = settings;
    this.acquireScript = defineScript(redis, 'ragsyncCircuitAcquire', ACQUIRE_LUA, 1);
    this.reportScript = defineScript(redis, 'ragsyncCircuitReport', REPORT_LUA, 1);
    this.peekScript = defineScript(redis, 'ragsyncCircuitPeek', PEEK_LUA, 1);
    this.warning = new ThrottledWarning(options.logger, 30_000);
  }

  key(target: string): string {
    return `${this.options.keyPrefix}circuit:${target}`;
  }

  /** May a call to `target` go ahead now? A permit must be reported with `success` or `failure`. */
  async acquire(target: string): Promise<CircuitAdmission> {
    const s = this.settings;
    let reply: [string, number, number, string, string];
    try {
      const call = this.acquireScript(this.key(target), this.now(), s.halfOpenProbes, s.probeTimeoutMs, s.idleTtlMs, randomUUID(), s.probeWaitMs);
      reply = (await withDeadline(call, s.redisTimeoutMs, 'circuit breaker')) as typeof reply;
    } catch (error) {
      return this.withoutRedis(target, error);
    }
    const [luaState, allowed, waitMs, probeId, transition] = reply;
    const state = fromLua(luaState);
    this.show(target, state);
    if (transition === 'half_open') this.options.logger?.info({ target }, 'circuit half-open: probing the target');
    if (allowed === 1) {
      this.knownOpen.delete(target);
      return probeId ? { allowed: true, target, probe: true, probeId } : { allowed: true, target, probe: false };
    }
    if (state === 'open') this.knownOpen.set(target, Date.now() + waitMs);
    return { allowed: false, target, state: state === 'open' ? 'open' : 'half-open', retryAt: Date.now() + waitMs, waitMs };
  }

  /** The call went through: ends a run of failures; a probe's success closes the circuit. */
  success(permit: CircuitPermit): Promise<CircuitState | undefined> {
    return this.report(permit, 'success');
  }

  /** The call failed: a RetryableError counts towards opening (see {@link breakerOutcome}). */
  failure(permit: CircuitPermit, error: unknown): Promise<CircuitState | undefined> {
    return this.report(permit, breakerOutcome(error), error);
  }

  /** Runs `fn` if the circuit lets it, reporting its outcome; throws {@link CircuitOpenError} if not. */
  async call<T>(target: string, fn: () => Promise<T>): Promise<T> {
    const admission = await this.acquire(target);
    if (!admission.allowed) throw new CircuitOpenError(target, admission.waitMs);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      await this.failure(admission, error);
      throw error;
    }
    await this.success(admission);
    return result;
  }

  /**
   * How long `target` stays open as this process last saw it (an acquire refused, or a report that
   * left it open); 0 when it was not seen open or the open time is over.
   */
  openWait(target: string): number {
    const until = this.knownOpen.get(target);
    return until === undefined ? 0 : Math.max(0, until - Date.now());
  }

  /** The shared state as it is now (an open circuit past its open time reads half-open). */
  async state(target: string): Promise<CircuitSnapshot> {
    const call = this.peekScript(this.key(target), this.now());
    const [luaState, failures, waitMs, probes] = (await withDeadline(call, this.settings.redisTimeoutMs, 'circuit breaker')) as [string, number, number, number];
    const state = luaState === 'open' && waitMs === 0 ? 'half-open' : fromLua(luaState);
    return { target, state, failures, waitMs, probes };
  }

  /** Closes the circuit of `target` by hand (an operator knows the target is back). */
  async reset(target: string): Promise<void> {
    await withDeadline(this.redis.del(this.key(target)), this.settings.redisTimeoutMs, 'circuit breaker');
    this.knownOpen.delete(target);
    this.show(target, 'closed');
  }

  /**
   * Reports a call's outcome as already judged (a batch whose records failed one by one, see
   * src/sinks/batch-outcome.ts); `error`, when given, is the reason logged if the circuit opens.
   */
  async report(permit: CircuitPermit, outcome: BreakerOutcome, error?: unknown): Promise<CircuitState | undefined> {
    const s = this.settings;
    const target = permit.target;
    let reply: [string, string, number, number?];
    try {
      const call = this.reportScript(this.key(target), this.now(), outcome, s.failureThreshold, s.openMs, s.idleTtlMs, permit.probeId ?? '');
      reply = (await withDeadline(call, s.redisTimeoutMs, 'circuit breaker')) as typeof reply;
    } catch (redisError) {
      // The outcome is lost for the shared count; the call itself already happened.
      this.warning.warn({ target, err: describeError(redisError) }, 'circuit breaker: Redis unavailable, outcome not recorded');
      return undefined;
    }
    const [luaState, transition, failures, waitMs] = reply;
    const state = fromLua(luaState);
    this.show(target, state);
    // Open, whether this outcome opened it or it was already: remembered for `openWait` (and
    // honoured without Redis, see `withoutRedis`).
    if (state === 'open') this.knownOpen.set(target, Date.now() + (waitMs ?? s.openMs));
    const reason = error === undefined ? undefined : describeError(error);
    if (transition === 'opened' || transition === 'reopened') {
      const message = transition === 'opened' ? `circuit opened: ${failures} consecutive failures` : 'circuit opened again: the probe failed';
      this.options.logger?.error({ target, failures, openMs: s.openMs, reason }, `${message}; no calls to ${target} for ${Math.round(s.openMs / 1000)} s`);
    } else if (transition === 'closed') {
      this.knownOpen.delete(target);
      this.options.logger?.error({ target }, `circuit closed: the probe to ${target} succeeded, calls resume`);
    }
    return state;
  }

  private withoutRedis(target: string, error: unknown): CircuitAdmission {
    const until = this.knownOpen.get(target);
    const waitMs = until === undefined ? 0 : until - Date.now();
    if (waitMs > 0) {
      this.warning.warn({ target, err: describeError(error) }, 'circuit breaker: Redis unavailable; honouring the open time last seen');
      return { allowed: false, target, state: 'open', retryAt: until!, waitMs };
    }
    this.warning.warn({ target, err: describeError(error) }, 'circuit breaker: Redis unavailable; calls go through (fail open)');
    return { allowed: true, target, probe: false, degraded: true };
  }

  private now(): ScriptArg {
    return this.options.clock ? Math.floor(this.options.clock()) : '';
  }

  private show(target: string, state: CircuitState): void {
    this.options.metrics?.circuitState.set({ target }, GAUGE[state]);
  }
}
