import type { Sink, SinkRecord, SinkResult } from '../core/sink.js';
import { RateLimitedError } from '../core/signals.js';
import type { RedisRateLimiter } from '../coordination/rate-limiter.js';
import { targetWait } from './batch-outcome.js';
import { callGate, isGatedSink } from './call-gate.js';

/** What the wrapper needs of a limiter; {@link RedisRateLimiter} is one. `key` lets the calls of a write read the shared deadline too. */
export type SinkLimiter = Pick<RedisRateLimiter, 'waitFor' | 'blockFor' | 'limitOf'> & Partial<Pick<RedisRateLimiter, 'key'>>;

export interface RateLimitOptions<V = unknown> {
  /** The endpoint's name in the limiter (its bucket and its Retry-After deadline). @defaultValue the sink's target */
  endpoint?: string;
  /** Tokens one write takes: a number, or a function of the batch (a target that charges per record); at most the bucket's burst. @defaultValue 1 */
  tokensPerWrite?: number | ((records: readonly SinkRecord<V>[]) => number);
  /**
   * Longest wait for tokens inside the write; a longer one throws RateLimitedError at once, so the
   * runner pauses the stage instead of a sleep that Kafka would take for a dead member. @defaultValue 1000
   */
  maxWaitMs?: number;
}

/**
 * Holds a sink to its endpoint's shared rate (docs/sinks.md). Before each write it takes tokens
 * from the endpoint's bucket in Redis, waiting up to `maxWaitMs`. When the target names its own wait
 * (a RetryableError with `retryAfterMs`: a 429, or a 503 with Retry-After), every replica is told
 * through `blockFor`, and the write throws RateLimitedError: the runner pauses the stage for that
 * long and retries the records in place, not through the retry topics. A record that failed alone
 * with such a wait (a sink that calls the target per record) gets a RateLimitedError instead of its
 * error, so the runner pauses at it; the records before it keep their results.
 *
 * A sink that makes its calls through a gate (src/sinks/call-gate.ts: the shops, the webhook
 * receivers) is given the endpoint's: each of its calls then waits for the deadline too, and the
 * first answer with a Retry-After holds back the calls of this process still to come, of every
 * write in flight, before the write that saw it ends.
 */
export function withRateLimit<V>(sink: Sink<V>, limiter: SinkLimiter, options: RateLimitOptions<V> = {}): Sink<V> {
  const endpoint = options.endpoint ?? sink.target;
  const maxWaitMs = options.maxWaitMs ?? 1000;
  const tokensOf = (records: readonly SinkRecord<V>[]): number => {
    const tokens = typeof options.tokensPerWrite === 'function' ? options.tokensPerWrite(records) : (options.tokensPerWrite ?? 1);
    // A write dearer than the bucket holds could never be granted: it takes the whole bucket.
    const burst = limiter.limitOf(endpoint)?.burst ?? Number.POSITIVE_INFINITY;
    return Math.max(1, Math.min(Math.floor(burst), Math.ceil(tokens)));
  };
  const gate = callGate(limiter, endpoint, maxWaitMs);
  if (isGatedSink(sink)) sink.useCallGate(gate);

  async function pause(waitMs: number): Promise<RateLimitedError> {
    gate.learn(waitMs);
    await limiter.blockFor(endpoint, waitMs);
    return new RateLimitedError(endpoint, Math.ceil(waitMs), 'blocked');
  }

  return {
    target: sink.target,
    connect: () => sink.connect(),
    close: () => sink.close(),
    async write(records) {
      if (records.length === 0) return [];
      // A deadline this process already knows costs no Redis call.
      const knownWait = gate.waitMs();
      if (knownWait > maxWaitMs) throw new RateLimitedError(endpoint, knownWait, 'blocked');
      try {
        await limiter.waitFor(endpoint, tokensOf(records), { maxWaitMs });
      } catch (error) {
        if (isBlocked(error)) gate.learn(error.retryAfterMs);
        throw error;
      }
      let results: SinkResult[];
      try {
        results = await sink.write(records);
      } catch (error) {
        const waitMs = targetWait([error]);
        if (waitMs === undefined) throw error;
        const signal = await pause(waitMs);
        throw Object.assign(signal, { cause: error });
      }
      const waitMs = targetWait(results.map((result) => (result.status === 'failed' ? result.error : undefined)));
      if (waitMs === undefined) return results;
      const signal = await pause(waitMs);
      return results.map((result) => (result.status === 'failed' && targetWait([result.error]) !== undefined ? { status: 'failed', error: signal } : result));
    },
  };
}

/** The limiter's refusal for a deadline (not for a spent bucket): the whole process holds back for it. */
function isBlocked(error: unknown): error is RateLimitedError & { retryAfterMs: number } {
  return error instanceof RateLimitedError && error.retryAfterMs !== undefined && error.message.includes('(Retry-After)');
}
