import { PermanentError, RetryableError, SystemError } from '../../core/errors.js';

/**
 * What a receiver's answer to one batch means (docs/connectors/webhook-forwarder.md "Answers").
 * Pure: the status, headers and body text in, a decision out.
 *
 * - 2xx: applied; items the body names in `rejected` (ragsync's own ingress does) failed alone.
 * - 408, 429, 5xx: retryable, with the receiver's Retry-After.
 * - 401, 403, 404: wrong for every record (secret, tenant, URL): a SystemError.
 * - any other 4xx: refused. Items named in the body's `items` (ragsync's 400) failed; the others
 *   were not taken and may be sent again without them. Without names, the batch as a whole.
 */
export type Answer =
  | { kind: 'applied'; rejected: Map<number, string> }
  | { kind: 'refused'; named: Map<number, string>; error: PermanentError }
  | { kind: 'error'; error: RetryableError | SystemError | PermanentError };

/** Seconds (`120`) or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Items a receiver names by index (`rejected` of a 202, `items` of a 400), each with its reasons. */
export function namedItems(list: unknown, count: number): Map<number, string> {
  const named = new Map<number, string>();
  if (!Array.isArray(list)) return named;
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { index, fields } = entry as { index?: unknown; fields?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) continue;
    const reasons = Array.isArray(fields)
      ? fields
          .map((f: { path?: unknown; message?: unknown }) => (typeof f?.message === 'string' ? `${typeof f.path === 'string' && f.path ? `${f.path} ` : ''}${f.message}` : undefined))
          .filter((text): text is string => text !== undefined)
      : [];
    named.set(index, short(reasons.length > 0 ? reasons.join('; ') : 'refused'));
  }
  return named;
}

function short(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(text);
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The receiver's own words about a refusal, short: its `error` code and `message`, else the text. */
function reasonOf(body: Record<string, unknown> | undefined, text: string): string {
  if (body && (typeof body.error === 'string' || typeof body.message === 'string')) {
    return short([body.error, body.message].filter((part) => typeof part === 'string').join(': '));
  }
  return short(text.replace(/\s+/g, ' ').trim()) || 'no body';
}

export function classifyAnswer(receiver: string, status: number, retryAfter: string | null, text: string, itemCount: number, nowMs: number): Answer {
  const body = parseJson(text);
  if (status >= 200 && status < 300) return { kind: 'applied', rejected: namedItems(body?.rejected, itemCount) };
  const reason = reasonOf(body, text);
  if (status === 408 || status === 429 || status >= 500) {
    const wait = retryAfterMs(retryAfter, nowMs);
    return { kind: 'error', error: new RetryableError(`${receiver} answered ${status} (${reason}); retry later`, { code: 'webhook_unavailable', ...(wait === undefined ? {} : { retryAfterMs: wait }) }) };
  }
  if (status === 401 || status === 403) {
    return { kind: 'error', error: new SystemError(`${receiver} refused the signature or credentials (${status}: ${reason}); check the receiver's secret`, { code: 'webhook_unauthorized' }) };
  }
  if (status === 404) {
    return { kind: 'error', error: new SystemError(`${receiver} answered 404 (${reason}); check the URL and tenant`, { code: 'webhook_not_found' }) };
  }
  if (status >= 400 && status < 500) {
    const error = new PermanentError(`${receiver} refused the batch (${status}: ${reason})`, { code: 'webhook_refused' });
    return { kind: 'refused', named: namedItems(body?.items, itemCount), error };
  }
  // 1xx/3xx: redirects are not followed (a signed body must not travel to another host).
  return { kind: 'error', error: new SystemError(`${receiver} answered ${status} (${reason}); expected 2xx`, { code: 'webhook_unexpected_status' }) };
}
