import { findRagsyncError } from '../core/errors.js';
import { CircuitOpenError } from '../core/signals.js';
import type { Sink, SinkResult } from '../core/sink.js';
import { breakerOutcome } from '../coordination/breaker-outcome.js';
import type { RedisCircuitBreaker } from '../coordination/circuit-breaker.js';
import { batchHealth } from './batch-outcome.js';

/** What the wrapper needs of a breaker; {@link RedisCircuitBreaker} is one. */
export type SinkBreaker = Pick<RedisCircuitBreaker, 'acquire' | 'report'>;

/**
 * Guards a sink with the circuit breaker of its target (docs/sinks.md). Before each write it asks
 * the breaker; a refusal throws {@link CircuitOpenError} for the whole batch, so the runner pauses
 * the stage for the open time without counting an attempt, and no record reaches a retry topic or
 * the DLQ. After the write it reports one outcome for the batch: by the thrown error
 * (`breakerOutcome`: only a RetryableError counts as a failure), or by the results
 * (`batchHealth`: a failure only when the target answered for none of the records).
 */
export function withCircuitBreaker<V>(sink: Sink<V>, breaker: SinkBreaker): Sink<V> {
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
        await breaker.report(admission, breakerOutcome(error), error);
        throw error;
      }
      const health = batchHealth(results);
      const reason = health === 'failure' ? firstError(results) : undefined;
      await breaker.report(admission, health, reason);
      return results;
    },
  };
}

function firstError(results: readonly SinkResult[]): unknown {
  for (const result of results) if (result.status === 'failed' && findRagsyncError(result.error)) return result.error;
  return undefined;
}
