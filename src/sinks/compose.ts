import type { Sink } from '../core/sink.js';
import { withCircuitBreaker, type SinkBreaker } from './circuit-breaker.js';
import { withRateLimit, type RateLimitOptions, type SinkLimiter } from './rate-limit.js';
import { withRecordIsolation } from './record-isolation.js';

export interface SinkWrappers<V = unknown> {
  /** The circuit breaker of the sink's target; none: no breaker. */
  breaker?: SinkBreaker;
  /** The shared rate limit of the sink's endpoint; none: no rate limit. */
  limiter?: SinkLimiter;
  rateLimit?: RateLimitOptions<V>;
  /** Split a batch the target refused as a whole to find the refused records. @defaultValue true */
  isolateRecords?: boolean;
}

/**
 * A sink with the standard wrappers in the one standard order, outermost first (docs/sinks.md):
 *
 * 1. record isolation — so that every call it makes while splitting passes the breaker and the
 *    rate limit like any other call;
 * 2. circuit breaker — outside the rate limit, so an open circuit spends no tokens of the shared
 *    bucket, and a 429 (turned into RateLimitedError by the rate limit) never counts as a failure:
 *    the target is up and said when to come back;
 * 3. rate limit — next to the target, so it sees the target's own errors and their Retry-After.
 *
 * Retrying is left to the runner (src/core/failure-policy.ts): it retries in place or through the
 * retry topics with backoff, counts attempts and honours Retry-After; a retry inside the write
 * would hold a partition longer than Kafka's session allows and hide failures from the breaker.
 */
export function composeSink<V>(sink: Sink<V>, wrappers: SinkWrappers<V> = {}): Sink<V> {
  let composed = sink;
  if (wrappers.limiter) composed = withRateLimit(composed, wrappers.limiter, wrappers.rateLimit);
  if (wrappers.breaker) composed = withCircuitBreaker(composed, wrappers.breaker);
  if (wrappers.isolateRecords ?? true) composed = withRecordIsolation(composed);
  return composed;
}
