import { backoffDelay } from './backoff.js';
import { classify, findRagsyncError, RetryableError, type ErrorClass } from './errors.js';

/**
 * What the runner does with a record that failed (docs/design.md §4), decided here and only here,
 * as a pure function of the error, how often this record has failed, and the stage's policy. The
 * runner carries the decision out; it never decides itself.
 */
export interface FailurePolicy {
  /** Attempts of one record before a retryable failure is dead-lettered. @defaultValue 8 */
  maxAttempts: number;
  /** Backoff between attempts in place (exponential, full jitter). */
  backoff: { initialMs: number; maxMs: number };
  /** Longest wait a target may ask for with Retry-After; a longer one is capped to this. */
  maxRetryAfterMs: number;
  /** How long a stage stays paused after a system error before it probes again. */
  systemPauseMs: number;
  /** Terminal stages with delayed retry topics hand retryable failures to them. */
  retryTopics: boolean;
}

export const DEFAULT_FAILURE_POLICY: FailurePolicy = {
  maxAttempts: 8,
  backoff: { initialMs: 1_000, maxMs: 60_000 },
  maxRetryAfterMs: 15 * 60_000,
  systemPauseMs: 30_000,
  retryTopics: false,
};

export type FailureDecision =
  /** The record goes to the group's DLQ; the partition goes on. */
  | { action: 'dead-letter'; errorClass: ErrorClass; reason: 'permanent' | 'attempts-exhausted' }
  /** The record goes to the group's delayed retry topic; the partition goes on. */
  | { action: 'retry-topic' }
  /** The partition stops at this record and tries it again after `delayMs`. */
  | { action: 'pause-partition'; delayMs: number }
  /** Every input of the stage pauses: the failure is not the record's. */
  | { action: 'pause-stage'; delayMs: number };

/**
 * @param attempt how many times this record has failed, this failure included (1 on the first).
 * @param random  for the jitter; tests pin it.
 */
export function decideFailure(error: unknown, attempt: number, policy: FailurePolicy, random: () => number = Math.random): FailureDecision {
  const errorClass = classify(error);
  if (errorClass === 'permanent') return { action: 'dead-letter', errorClass, reason: 'permanent' };
  if (errorClass === 'system') return { action: 'pause-stage', delayMs: policy.systemPauseMs };
  if (policy.retryTopics) return { action: 'retry-topic' };
  if (attempt >= policy.maxAttempts) return { action: 'dead-letter', errorClass, reason: 'attempts-exhausted' };
  const backoff = backoffDelay(attempt - 1, { ...policy.backoff, random });
  return { action: 'pause-partition', delayMs: Math.max(backoff, retryAfterOf(error, policy)) };
}

/** The target's own wait (429/503 Retry-After), capped; 0 when it named none. */
function retryAfterOf(error: unknown, policy: FailurePolicy): number {
  const found = findRagsyncError(error);
  const ms = found instanceof RetryableError ? found.retryAfterMs : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return 0;
  return Math.min(ms, policy.maxRetryAfterMs);
}
