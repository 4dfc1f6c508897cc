import { RetryableError } from './errors.js';

/**
 * Control signals: errors that say "not now" rather than "this failed" (docs/design.md §4). Each
 * is a RetryableError carrying the wait as `retryAfterMs`, so code that knows only the three error
 * classes still backs off; the failure policy knows them by class and never counts them as an
 * attempt, never sends their record to a retry topic or the DLQ, and never opens a circuit for them.
 */

/** A record read from a delayed retry topic before its due time: its partition waits `retryAfterMs`. */
export class NotDueError extends RetryableError {
  readonly dueAt: number;

  constructor(dueAt: number, now = Date.now()) {
    super(`not due before ${new Date(dueAt).toISOString()}`, { code: 'not_due', retryAfterMs: Math.max(0, dueAt - now) });
    this.dueAt = dueAt;
  }
}

/** A call not made because the target's circuit is open: the stage stops reading for `retryAfterMs`. */
export class CircuitOpenError extends RetryableError {
  readonly target: string;

  constructor(target: string, waitMs: number) {
    super(`the circuit of ${target} is open: no call for ${Math.ceil(waitMs / 1000)} s`, { code: 'circuit_open', retryAfterMs: waitMs });
    this.target = target;
  }
}

/**
 * A call not made because the endpoint's shared rate limit is spent or the endpoint asked for a
 * pause (429 with Retry-After): the stage stops reading for `retryAfterMs`.
 */
export class RateLimitedError extends RetryableError {
  readonly endpoint: string;

  constructor(endpoint: string, waitMs: number, reason: 'rate' | 'blocked') {
    const why = reason === 'blocked' ? 'the endpoint asked for a pause (Retry-After)' : 'the shared rate limit is spent';
    super(`${endpoint}: ${why}; next call in ${waitMs} ms`, { code: 'rate_limited', retryAfterMs: waitMs });
    this.endpoint = endpoint;
  }
}
