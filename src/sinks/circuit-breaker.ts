import { findRagsyncError, RetryableError } from '../core/errors.js';
import { CircuitOpenError } from '../core/signals.js';
import type { Sink, SinkResult } from '../core/sink.js';
import { breakerOutcome } from '../coordination/breaker-outcome.js';
import type { RedisCircuitBreaker } from '../coordination/circuit-breaker.js';
import { batchHealth, isSignal } from './batch-outcome.js';

/** What the wrapper needs of a breaker; {@link RedisCircuitBreaker} is one. */
export type SinkBreaker = Pick<RedisCircuitBreaker, 'acquire' | 'report' | 'openWait'>;

/**
 * Guards a sink with the circuit breaker of its target (docs/sinks.md). Before each write it asks
 * the breaker; a refusal throws {@link CircuitOpenError} for the whole batch, so the runner pauses
 * the stage for the open time without counting an attempt, and no record reaches a retry topic or
 * the DLQ. After the write it reports one outcome for the batch: by the thrown error
 * (`breakerOutcome`: only a RetryableError counts as a failure), or by the results
 * (`batchHealth`: a failure only when the target answered for none of the records).
 *
 * A failure that leaves the circuit open (the one that opened it, a failed probe, a late answer
 * while open) is turned into {@link CircuitOpenError} too, with the failure as its cause: the
 * target is known to be down, so its records wait with the stage for the open time instead of
 * using up their retry tiers one probe at a time, which would dead-letter them during an outage
 * longer than the tiers' delays.
 */
export function withCircuitBreaker<V>(sink: Sink<V>, breaker: SinkBreaker): Sink<V> {
  const whileOpen = (error: unknown) => Object.assign(new CircuitOpenError(sink.target, breaker.openWait(sink.target)), { cause: error });
  return {
    target: sink.target,
    connect: () => sink.connect(),
    close: () => sink.close(),
    async write(records) {
      const admission = await breaker.acquire(sink.target);
      if (!admission.allowed) throw new CircuitOpenError(sink.target, admission.waitMs);
      let results: SinkResult[];
      try {
        results = await sink.write(records);
      } catch (error) {
        const outcome = breakerOutcome(error);
        const state = await breaker.report(admission, outcome, error);
        if (outcome === 'failure' && state === 'open') throw whileOpen(error);
        throw error;
      }
      const health = batchHealth(results);
      const reason = health === 'failure' ? firstError(results) : undefined;
      const state = await breaker.report(admission, health, reason);
      if (health !== 'failure' || state !== 'open') return results;
      return results.map((result) => (result.status === 'failed' && isTargetFailure(result.error) ? { status: 'failed', error: whileOpen(result.error) } : result));
    },
  };
}

function firstError(results: readonly SinkResult[]): unknown {
  for (const result of results) if (result.status === 'failed' && findRagsyncError(result.error)) return result.error;
  return undefined;
}

/** A retryable failure of the target itself (not one of our own signals). */
function isTargetFailure(error: unknown): boolean {
  const found = findRagsyncError(error);
  return found instanceof RetryableError && !isSignal(found);
}
