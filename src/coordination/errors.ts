import { RetryableError } from '../core/errors.js';

/**
 * Control signals of the coordination wrappers: a sink call that was not made because the target's
 * circuit is open or its endpoint's rate limit is spent. Both are retryable with the wait the
 * breaker or the limiter computed as `retryAfterMs`, so the failure policy pauses the partition at
 * least that long; neither says anything about the target, so the breaker never counts them.
 */
export class CircuitOpenError extends RetryableError {
  readonly target: string;

  constructor(target: string, waitMs: number) {
    super(`the circuit of ${target} is open: no call for ${Math.ceil(waitMs / 1000)} s`, { code: 'circuit_open', retryAfterMs: waitMs });
    this.target = target;
  }
}

export class RateLimitedError extends RetryableError {
  readonly endpoint: string;

  constructor(endpoint: string, waitMs: number, reason: 'rate' | 'blocked') {
    const why = reason === 'blocked' ? 'the endpoint asked for a pause (Retry-After)' : 'the shared rate limit is spent';
    super(`${endpoint}: ${why}; next call in ${waitMs} ms`, { code: 'rate_limited', retryAfterMs: waitMs });
    this.endpoint = endpoint;
  }
}
