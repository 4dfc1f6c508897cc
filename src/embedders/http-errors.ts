import { PermanentError, RetryableError, SystemError, type RagsyncError } from '../core/errors.js';

/**
 * Classification of an HTTP embedding endpoint's failures, once, at the client's edge
 * (docs/design.md §4). Messages name the endpoint and the status; `redact` removes secrets (the API
 * key) from anything the server sent back before it reaches a message.
 */
export interface HttpContext {
  /** What was called, for messages, e.g. `embedding endpoint http://127.0.0.1:11434/v1`. */
  what: string;
  redact: (text: string) => string;
}

/** The `error` object of an OpenAI-style error body; every field optional. */
export interface ApiErrorBody {
  message?: string;
  code?: string | null;
  param?: string | null;
  type?: string;
}

/**
 * Milliseconds to wait from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110
 * §10.2.3). Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Classifies a non-2xx answer. */
export function classifyHttpStatus(status: number, headers: Headers, body: ApiErrorBody | undefined, context: HttpContext): RagsyncError {
  const detail = body?.message ? `: ${context.redact(body.message).slice(0, 300)}` : '';
  const prefix = `${context.what} answered ${status}`;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
    const wait = retryAfterMs === undefined ? '' : ` (retry after ${Math.ceil(retryAfterMs / 1000)} s)`;
    return new RetryableError(`${prefix}, rate limited${wait}${detail}`, { code: 'embedder_rate_limited', retryAfterMs });
  }
  if (status >= 500 || status === 408 || status === 425) {
    return new RetryableError(`${prefix}, unavailable${detail}`, {
      code: 'embedder_unavailable',
      retryAfterMs: parseRetryAfter(headers.get('retry-after')),
    });
  }
  if (status === 401 || status === 403) {
    return new SystemError(`${prefix}, the API key is missing, wrong or not allowed (EMBEDDING_API_KEY)${detail}`, { code: 'embedder_unauthorized' });
  }
  if (status === 404 || body?.code === 'model_not_found' || body?.param === 'model') {
    return new SystemError(`${prefix}, unknown model or wrong URL (EMBEDDING_MODEL, EMBEDDING_URL)${detail}`, { code: 'embedder_unknown_model' });
  }
  if (body?.param === 'dimensions' || body?.param === 'encoding_format') {
    // A setting every request carries: wrong for all records, not for this one.
    return new SystemError(`${prefix}, the endpoint refused the request settings (${body.param})${detail}`, { code: 'embedder_bad_settings' });
  }
  if (status >= 400 && status < 500) {
    return new PermanentError(`${prefix}, the input was refused${detail}`, { code: 'embedder_rejected_input' });
  }
  return new SystemError(`${prefix}, an unexpected status${detail}`, { code: 'embedder_bad_response' });
}

/** Classifies what `fetch` (or reading its body) threw: a timeout or a network failure. */
export function classifyFetchFailure(error: unknown, timeoutMs: number, context: HttpContext): RetryableError {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new RetryableError(`${context.what} did not answer within ${timeoutMs} ms`, { code: 'embedder_timeout' });
  }
  // undici puts the system error (ECONNREFUSED, ENOTFOUND, …) in `cause`.
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new RetryableError(`${context.what} is unreachable: ${context.redact(reason)}`, { code: 'embedder_unreachable' });
}
