/**
 * Error classes double as control signals for the stage runner and the sinks (docs/design.md §4).
 * Every client classifies its failures once, at its edge, into one of these three:
 *
 * - {@link RetryableError}: the same call may succeed later (network, timeout, 5xx, 429).
 * - {@link PermanentError}: this record is wrong and will stay wrong (validation, a 4xx about the
 *   record, undecodable bytes). The runner sends it to the group's DLQ.
 * - {@link SystemError}: the target or our configuration is wrong for every record (401/403, a
 *   missing collection, a wrong dimension, an unknown topic). The runner pauses the stage and
 *   alerts; it never fills the DLQ with such records.
 *
 * Anything else is a bug; {@link classify} treats it as permanent for the record it happened on.
 */
export type ErrorClass = 'retryable' | 'permanent' | 'system';

export interface RagsyncErrorOptions {
  /** A stable, machine-readable code such as `validation_failed` or `qdrant_unauthorized`. */
  code: string;
  cause?: unknown;
}

export abstract class RagsyncError extends Error {
  abstract readonly errorClass: ErrorClass;
  readonly code: string;
  /** kafkajs reads `retriable`; ours are never retried by kafkajs itself. */
  readonly retriable = false;

  constructor(message: string, options: RagsyncErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
  }
}

export class RetryableError extends RagsyncError {
  readonly errorClass = 'retryable' as const;
  /** How long the caller should wait before the next attempt, when the target said so. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: RagsyncErrorOptions & { retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

export class PermanentError extends RagsyncError {
  readonly errorClass = 'permanent' as const;
}

export class SystemError extends RagsyncError {
  readonly errorClass = 'system' as const;
}

/** Walks the `cause` chain and returns the first ragsync error class found. */
export function findRagsyncError(error: unknown): RagsyncError | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    if (current instanceof RagsyncError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Classifies any thrown value. Unknown errors are permanent: they are bugs or poison records. */
export function classify(error: unknown): ErrorClass {
  return findRagsyncError(error)?.errorClass ?? 'permanent';
}

/** A one-line description of any thrown value, for logs, DLQ headers and CLI output. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Raised for a bad configuration value; the message names the variable. Never retried. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
