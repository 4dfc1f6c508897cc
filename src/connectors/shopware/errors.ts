import { PermanentError, RetryableError, SystemError, type RagsyncError } from '../../core/errors.js';
import type { ShopwareErrorEntry } from './types.js';

/**
 * Shopware's answers classified once, at the client's edge (docs/design.md §4). Every message is one
 * line that starts with `shopware <host>:` and names what failed; `redact` removes the client
 * secret and the access token from anything the shop sent back before it reaches a message.
 */
export interface ErrorContext {
  host: string;
  /** `POST /api/_action/sync`, for messages. */
  call: string;
  redact: (text: string) => string;
}

/** A 400 (or another 4xx about the request) with Shopware's `errors[]`, pointers included. */
export class ShopwareRejectedError extends PermanentError {
  constructor(
    message: string,
    readonly status: number,
    readonly errors: ShopwareErrorEntry[],
  ) {
    super(message, { code: 'shopware_rejected' });
  }
}

/**
 * Milliseconds to wait from a `Retry-After` header (delay-seconds or an HTTP date); undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** `errors[]` of a Shopware error body, or of league/oauth2's `{error, error_description}` form. */
export function parseErrorBody(text: string): ShopwareErrorEntry[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof body !== 'object' || body === null) return [];
  const { errors, error, error_description: description } = body as Record<string, unknown>;
  if (Array.isArray(errors)) return errors.filter((e): e is ShopwareErrorEntry => typeof e === 'object' && e !== null);
  if (typeof error === 'string') return [{ code: error, detail: typeof description === 'string' ? description : null }];
  return [];
}

/** One line of at most `max` characters. */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** `CODE: detail (at /pointer)` for one error entry. */
export function describeEntry(entry: ShopwareErrorEntry): string {
  const detail = entry.detail ?? entry.title ?? '';
  const pointer = entry.source?.pointer ? ` (at ${entry.source.pointer})` : '';
  return `${entry.code ?? 'error'}${detail ? `: ${detail}` : ''}${pointer}`;
}

function summary(errors: ShopwareErrorEntry[], text: string, context: ErrorContext): string {
  if (errors.length === 0) return text.trim() === '' ? '' : ` (${context.redact(oneLine(text, 200))})`;
  const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : '';
  return ` ${context.redact(oneLine(describeEntry(errors[0]!)))}${more}`;
}

/** The wait a throttled token endpoint names: `errors[0].meta.parameters.seconds` (it sends no Retry-After). */
export function throttleSeconds(errors: ShopwareErrorEntry[]): number | undefined {
  const seconds = errors[0]?.meta?.parameters?.seconds;
  const value = typeof seconds === 'string' ? Number(seconds) : seconds;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Classifies an answer of the token endpoint that is not a token. */
export function tokenError(status: number, headers: Headers, text: string, context: ErrorContext): RagsyncError {
  const errors = parseErrorBody(text);
  const prefix = `shopware ${context.host}:`;
  if (status === 429) {
    const seconds = throttleSeconds(errors);
    const retryAfterMs = seconds !== undefined ? seconds * 1000 : parseRetryAfter(headers.get('retry-after'));
    const wait = retryAfterMs === undefined ? '' : `, retry in ${Math.ceil(retryAfterMs / 1000)} s`;
    return new RetryableError(`${prefix} token endpoint throttled (${errors[0]?.code ?? '429'})${wait}`, { code: 'shopware_auth_throttled', retryAfterMs });
  }
  if (status === 400 || status === 401 || status === 403) {
    return new SystemError(`${prefix} ${status} invalid_client (check clientId/clientSecret)`, { code: 'shopware_unauthorized' });
  }
  return apiError(status, headers, text, context);
}

/** Classifies a non-2xx answer of an Admin API call (the 401 retry is the client's business). */
export function apiError(status: number, headers: Headers, text: string, context: ErrorContext): RagsyncError {
  const errors = parseErrorBody(text);
  const prefix = `shopware ${context.host}: ${context.call} answered ${status}`;
  const detail = summary(errors, text, context);
  if (status === 429 || status >= 500 || status === 408) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
    const wait = retryAfterMs === undefined ? '' : `, retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    return new RetryableError(`${prefix}${detail}${wait}`, { code: status === 429 ? 'shopware_rate_limited' : 'shopware_unavailable', retryAfterMs });
  }
  if (status === 401) return new SystemError(`${prefix}${detail} (a fresh token was refused too)`, { code: 'shopware_unauthorized' });
  if (status === 403) return new SystemError(`${prefix}${detail} (the integration lacks a permission)`, { code: 'shopware_forbidden' });
  if (status === 404 || status === 405) return new SystemError(`${prefix}${detail} (check url: the Admin API is under <url>/api)`, { code: 'shopware_not_found' });
  return new ShopwareRejectedError(`${prefix}${detail}`, status, errors);
}

/** A call that got no answer: refused, reset, timed out. */
export function networkError(error: unknown, context: ErrorContext): RetryableError {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new RetryableError(`shopware ${context.host}: ${context.call} timed out`, { code: 'shopware_timeout', cause: error });
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new RetryableError(`shopware ${context.host}: ${context.call} failed: ${context.redact(oneLine(reason, 200))}`, { code: 'shopware_unreachable', cause: error });
}
