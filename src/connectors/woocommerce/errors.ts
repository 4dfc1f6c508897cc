import { PermanentError, RetryableError, SystemError } from '../../core/errors.js';

/** WooCommerce's (WordPress REST) error body: `{"code","message","data":{"status"}}`. */
export interface WooErrorBody {
  code?: string;
  message?: string;
  data?: { status?: number; resource_id?: number; [name: string]: unknown } | null;
}

/** Seconds or an HTTP date, as Retry-After says; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** One line of text: WooCommerce messages may hold HTML entities and line breaks. */
function oneLine(text: string, max = 300): string {
  const flat = text.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export function parseErrorBody(text: string): WooErrorBody | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as WooErrorBody;
  } catch {
    // not JSON: a proxy's or PHP's error page
  }
  return undefined;
}

const HINTS: Record<number, string> = {
  401: ' (check consumerKey/consumerSecret, the key needs read/write permission)',
  403: ' (the key lacks permission for this call)',
  413: ' (fewer items per batch: batchSize)',
};

/**
 * The classified error of a failed response: 5xx, 429 and 408 are retryable (with Retry-After), 401
 * and 403 are the target's configuration (SystemError), other 4xx refuse what was sent
 * (PermanentError). The message is one line: `woocommerce <host>: <status> <code> <message>`.
 */
export function httpError(host: string, what: string, status: number, text: string, retryAfter: string | null): Error {
  const body = parseErrorBody(text);
  const code = typeof body?.code === 'string' ? body.code : `http_${status}`;
  const detail = typeof body?.message === 'string' ? oneLine(body.message) : oneLine(text, 120);
  const message = `woocommerce ${host}: ${status} ${code}${detail ? ` ${detail}` : ''}${HINTS[status] ?? ''} (${what})`;
  if (status >= 500 || status === 429 || status === 408) {
    const wait = retryAfterMs(retryAfter);
    return new RetryableError(message, { code: `woocommerce_${status === 429 ? 'throttled' : 'unavailable'}`, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
  }
  if (status === 401 || status === 403) return new SystemError(message, { code: 'woocommerce_unauthorized' });
  return new PermanentError(message, { code: `woocommerce_${code}` });
}

/** The classified error of a call that got no answer: network, DNS, TLS, timeout. */
export function networkError(host: string, what: string, cause: unknown, timeoutMs: number): RetryableError {
  const name = (cause as { name?: string } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new RetryableError(`woocommerce ${host}: no answer within ${timeoutMs} ms (${what})`, { code: 'woocommerce_timeout' });
  }
  const inner = (cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const reason = inner?.code ?? inner?.message ?? (cause instanceof Error ? cause.message : String(cause));
  return new RetryableError(`woocommerce ${host}: unreachable: ${oneLine(String(reason), 160)} (${what})`, { code: 'woocommerce_unreachable' });
}

/**
 * The classified error of one failed item of a batch (HTTP 200): retryable when WooCommerce says
 * 5xx or the item hit a lock or timeout, permanent otherwise, with WooCommerce's message.
 */
export function itemError(host: string, what: string, error: WooErrorBody): Error {
  const status = typeof error.data?.status === 'number' ? error.data.status : 400;
  const code = error.code ?? 'item_failed';
  const message = `woocommerce ${host}: ${what}: ${status} ${code} ${oneLine(error.message ?? '')}`.trimEnd();
  if (status >= 500 || status === 429 || status === 408 || /lock|timeout|deadlock/i.test(code)) {
    return new RetryableError(message, { code: `woocommerce_${code}` });
  }
  return new PermanentError(message, { code: `woocommerce_${code}` });
}
