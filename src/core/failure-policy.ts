import { backoffDelay } from './backoff.js';
import { classify, findRagsyncError, RetryableError, type ErrorClass } from './errors.js';
import { CircuitOpenError, NotDueError, RateLimitedError } from './signals.js';
import type { RecordResult } from './stage.js';

/**
 * What the runner does with a record, decided here and only here (docs/design.md §4), as a pure
 * function of its result, how often it has failed, and its stage's policy. The runner carries the
 * decision out; it never decides itself.
 */
export interface FailurePolicy {
  /** Attempts of one record in place before a retryable failure is dead-lettered. @defaultValue 8 */
  maxAttempts: number;
  /** Backoff between attempts in place (exponential, full jitter). */
  backoff: { initialMs: number; maxMs: number };
  /** Longest wait a target may ask for with Retry-After; a longer one is capped to this. */
  maxRetryAfterMs: number;
  /** How long a stage stays paused after a system error before it probes again. */
  systemPauseMs: number;
  /**
   * Terminal stages with delayed retry topics hand retryable failures to them, tier after tier,
   * instead of retrying in place. Intermediate stages never do: a retry topic would let a later
   * record of the key overtake the failed one in their output.
   */
  retryTopics: boolean;
  /** How many delayed retry tiers the stage has (`<group>.retry.<delay>`); after the last, the DLQ. */
  retryTiers: number;
  /** Error codes dead-lettered at the first failure although retryable (a target's "never retry this"). */
  neverRetryCodes: readonly string[];
  /** Wait at least as long as a target's Retry-After (capped at `maxRetryAfterMs`). */
  honourRetryAfter: boolean;
}

export const DEFAULT_FAILURE_POLICY: FailurePolicy = {
  maxAttempts: 8,
  backoff: { initialMs: 1_000, maxMs: 60_000 },
  maxRetryAfterMs: 15 * 60_000,
  systemPauseMs: 30_000,
  retryTopics: false,
  retryTiers: 3,
  neverRetryCodes: [],
  honourRetryAfter: true,
};

/** Why a whole stage stops reading: a system error, the target's open circuit, a spent rate limit. */
export type StagePauseReason = 'system' | 'target-down' | 'rate-limited';

export type FailureDecision =
  /** The record goes to the group's DLQ; the partition goes on. */
  | { action: 'dead-letter'; errorClass: ErrorClass; reason: 'permanent' | 'never-retried' | 'attempts-exhausted' }
  /** The record goes to delayed retry tier `tier` (0 = the first); the partition goes on. */
  | { action: 'retry-topic'; tier: number }
  /**
   * The partition stops at this record and tries it again after `delayMs`. `counted`: this was a
   * failure of the record (an attempt); a record that is not due yet is not.
   */
  | { action: 'pause-partition'; delayMs: number; counted: boolean }
  /** Every input of the stage pauses: the failure is not the record's. */
  | { action: 'pause-stage'; delayMs: number; reason: StagePauseReason };

export type Decision = { action: 'ack'; stale: boolean } | FailureDecision;

/**
 * @param attempt how many times this record has failed, this failure included (1 on the first). A
 *                record read from retry tier k has failed k + 1 times before this.
 */
export function decide(result: RecordResult, attempt: number, policy: FailurePolicy, random: () => number = Math.random): Decision {
  if (result.ok) return { action: 'ack', stale: result.stale === true };
  return decideFailure(result.error, attempt, policy, random);
}

/** {@link decide} for a failure. @param random for the jitter; tests pin it. */
export function decideFailure(error: unknown, attempt: number, policy: FailurePolicy, random: () => number = Math.random): FailureDecision {
  const found = findRagsyncError(error);
  // Control signals first: they are not failures of the record.
  if (found instanceof NotDueError) return { action: 'pause-partition', delayMs: found.retryAfterMs ?? 0, counted: false };
  if (found instanceof CircuitOpenError) return { action: 'pause-stage', delayMs: signalWait(found, policy), reason: 'target-down' };
  if (found instanceof RateLimitedError) return { action: 'pause-stage', delayMs: signalWait(found, policy), reason: 'rate-limited' };
  const errorClass = classify(error);
  if (errorClass === 'permanent') return { action: 'dead-letter', errorClass, reason: 'permanent' };
  if (errorClass === 'system') return { action: 'pause-stage', delayMs: policy.systemPauseMs, reason: 'system' };
  if (found !== undefined && policy.neverRetryCodes.includes(found.code)) return { action: 'dead-letter', errorClass, reason: 'never-retried' };
  if (policy.retryTopics) {
    const tier = attempt - 1;
    if (tier < policy.retryTiers) return { action: 'retry-topic', tier };
    return { action: 'dead-letter', errorClass, reason: 'attempts-exhausted' };
  }
  if (attempt >= policy.maxAttempts) return { action: 'dead-letter', errorClass, reason: 'attempts-exhausted' };
  const backoff = backoffDelay(attempt - 1, { ...policy.backoff, random });
  return { action: 'pause-partition', delayMs: Math.max(backoff, retryAfterOf(error, policy)), counted: true };
}

/** A signal's own wait, capped; at least 100 ms, so a zero wait cannot spin. */
function signalWait(signal: RetryableError, policy: FailurePolicy): number {
  const ms = signal.retryAfterMs ?? 0;
  return Math.max(100, Math.min(Number.isFinite(ms) ? ms : 0, policy.maxRetryAfterMs));
}

/** The target's own wait (429/503 Retry-After), capped; 0 when it named none or the policy ignores it. */
function retryAfterOf(error: unknown, policy: FailurePolicy): number {
  if (!policy.honourRetryAfter) return 0;
  const found = findRagsyncError(error);
  const ms = found instanceof RetryableError ? found.retryAfterMs : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return 0;
  return Math.min(ms, policy.maxRetryAfterMs);
}
