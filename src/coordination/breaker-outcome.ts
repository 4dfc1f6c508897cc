import { findRagsyncError, PermanentError, RetryableError } from '../core/errors.js';
import { CircuitOpenError, RateLimitedError } from './errors.js';

/**
 * What a call's error says about the health of its target, for the circuit breaker:
 *
 * - `failure`: a RetryableError from the target (network, timeout, 5xx, 429). Only these count
 *   towards opening the circuit.
 * - `success`: a PermanentError — the target answered, about one record (a 400 for a bad
 *   document). It was reachable and working, so it ends a run of consecutive failures and a probe
 *   that gets it closes the circuit.
 * - `neutral`: everything else. A SystemError (401, missing collection) pauses the whole stage
 *   anyway; an unclassified error is our bug, not the target's; the breaker's and the limiter's
 *   own signals mean no call was made. A probe with a neutral outcome frees its slot for another.
 */
export type BreakerOutcome = 'success' | 'failure' | 'neutral';

export function breakerOutcome(error: unknown): BreakerOutcome {
  const found = findRagsyncError(error);
  if (found instanceof CircuitOpenError || found instanceof RateLimitedError) return 'neutral';
  if (found instanceof RetryableError) return 'failure';
  if (found instanceof PermanentError) return 'success';
  return 'neutral';
}
