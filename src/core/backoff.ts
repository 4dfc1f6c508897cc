/**
 * Exponential backoff with full jitter, as kafkajs and most clients do it: the n-th wait is a
 * random time in [base·2ⁿ/2, base·2ⁿ], capped. Jitter keeps replicas that failed together from
 * retrying together.
 */
export interface BackoffOptions {
  /** @defaultValue 500 */
  initialMs?: number;
  /** @defaultValue 60_000 */
  maxMs?: number;
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 60_000;
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, attempt));
  const random = options.random ?? Math.random;
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
