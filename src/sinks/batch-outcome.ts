import { findRagsyncError, PermanentError, RetryableError } from '../core/errors.js';
import { CircuitOpenError, NotDueError, RateLimitedError } from '../core/signals.js';
import type { SinkResult } from '../core/sink.js';

/** What one write says about its target's health; the breaker's view (src/coordination/breaker-outcome.ts). */
export type TargetHealth = 'success' | 'failure' | 'neutral';

/**
 * The health of the target after a write that returned results (a write that threw is judged by its
 * error alone, with `breakerOutcome`). A batch is one call, so it counts once:
 *
 * - `success` when the target answered for at least one record: one applied, stale, or refused for
 *   a reason of its own (a PermanentError shows a working target);
 * - `failure` when it answered for none and at least one record failed retryably (the target could
 *   not take them: network, timeout, 5xx);
 * - `neutral` otherwise: an empty batch, records refused by our own signals (circuit open, rate
 *   limit: no call was made), or only system and unclassified errors, which say nothing about
 *   whether the target is up.
 */
export function batchHealth(results: readonly SinkResult[]): TargetHealth {
  let retryable = false;
  for (const result of results) {
    if (result.status !== 'failed') return 'success';
    const found = findRagsyncError(result.error);
    if (isSignal(found)) continue;
    if (found instanceof PermanentError) return 'success';
    if (found instanceof RetryableError) retryable = true;
  }
  return retryable ? 'failure' : 'neutral';
}

/**
 * The longest wait any record's error names (a 429's or a 503's Retry-After), or undefined. Our own
 * signals are not counted: they are waits we set, not the target's.
 */
export function targetWait(errors: readonly unknown[]): number | undefined {
  let longest: number | undefined;
  for (const error of errors) {
    const found = findRagsyncError(error);
    if (!(found instanceof RetryableError) || isSignal(found)) continue;
    const ms = found.retryAfterMs;
    if (ms === undefined || !Number.isFinite(ms) || ms <= 0) continue;
    longest = Math.max(longest ?? 0, ms);
  }
  return longest;
}

/** Our own control signals: "not now", never a call the target answered. */
export function isSignal(error: unknown): boolean {
  return error instanceof CircuitOpenError || error instanceof RateLimitedError || error instanceof NotDueError;
}
