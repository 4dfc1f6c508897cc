import type { IHeaders, Message } from 'kafkajs';
import { findRagsyncError, describeError, type ErrorClass } from '../core/errors.js';
import { HEADERS } from '../core/records.js';

/** The DLQ topic of a consumer group (docs/design.md §1). */
export const dlqTopic = (prefix: string, group: string) => `${prefix}${group}.dlq`;

/** Header values are strings; kafkajs hands them over as Buffers. */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? String(value[value.length - 1]) : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return out;
}

export interface FailedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * The DLQ record of a failed input: the original key and bytes (or no value at all when
 * `headersOnly`, for records too large to copy), the original headers, and where and why it
 * failed. `failed` names where the record was first read: for a record from a retry tier, the
 * coordinates of its first failure, which `dlq replay` reads to find the input again. A retry
 * tier's own headers (due time, tier) do not follow it into the DLQ.
 */
export function dlqMessage(stage: string, failed: FailedRecord, error: unknown, errorClass: ErrorClass, options: { headersOnly?: boolean; now?: number } = {}): Message {
  const now = options.now ?? Date.now();
  const code = findRagsyncError(error)?.code ?? 'unexpected_error';
  const { [HEADERS.dueAt]: _dueAt, [HEADERS.retryTier]: _tier, ...original } = failed.headers;
  return {
    key: failed.key,
    value: options.headersOnly ? null : failed.value,
    headers: {
      ...original,
      [HEADERS.stage]: stage,
      [HEADERS.origTopic]: failed.topic,
      [HEADERS.origPartition]: String(failed.partition),
      [HEADERS.origOffset]: failed.offset,
      [HEADERS.errorClass]: errorClass,
      [HEADERS.errorCode]: code,
      // Headers are for people and tools; keep them short and single-line.
      [HEADERS.errorMessage]: describeError(error).replace(/\s+/g, ' ').slice(0, 1000),
      [HEADERS.attempt]: failed.headers[HEADERS.attempt] ?? '1',
      [HEADERS.firstFailureAt]: failed.headers[HEADERS.firstFailureAt] ?? new Date(now).toISOString(),
    },
  };
}

/**
 * Counts DLQ records in a sliding minute. A stage whose DLQ rate passes the cap is failing for
 * every record, which is a system failure in disguise: it pauses instead of emptying its input
 * into the DLQ (docs/design.md §4).
 */
export class DlqRateLimiter {
  private readonly times: number[] = [];

  constructor(
    private readonly capPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one DLQ send and says whether it stays within the cap. */
  tryAcquire(): boolean {
    const now = this.now();
    while (this.times.length > 0 && this.times[0]! <= now - 60_000) this.times.shift();
    if (this.times.length >= this.capPerMinute) return false;
    this.times.push(now);
    return true;
  }
}
