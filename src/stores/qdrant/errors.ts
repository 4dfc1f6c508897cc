import { PermanentError, RagsyncError, RetryableError, SystemError } from '../../core/errors.js';
import { watchResponses, type SeenHeaders } from './retry-after.js';

/**
 * Classifies a failure of the Qdrant client once, at the edge (docs/design.md §4). The client throws
 * `ApiError` (with `status` and the body in `data`) for HTTP errors, its own timeout and 429
 * errors, and undici's `TypeError: fetch failed` when the network is down. Messages name the
 * operation and Qdrant's reason, never the API key.
 */
interface HttpFailure {
  status: number;
  data?: { status?: { error?: string } | string };
  headers?: { get(name: string): string | null | undefined };
}

function httpFailure(error: unknown): HttpFailure | undefined {
  const candidate = error as Partial<HttpFailure> | null;
  return candidate !== null && typeof candidate === 'object' && typeof candidate.status === 'number' ? (candidate as HttpFailure) : undefined;
}

function reasonOf(failure: HttpFailure): string {
  const status = failure.data?.status;
  if (typeof status === 'object' && typeof status?.error === 'string') return status.error;
  return typeof status === 'string' ? status : 'no reason given';
}

/**
 * The wait a 429 or 503 names: the `Retry-After` header (seconds or an HTTP date) as received, else
 * Qdrant's own "Retry after 12s" in the reason. The client's `retry_after` comes last: it holds only
 * the header's first character (see retry-after.ts).
 */
function retryAfterMs(error: unknown, failure: HttpFailure | undefined, seenHeader: string | undefined): number | undefined {
  const header = seenHeader ?? failure?.headers?.get('retry-after') ?? undefined;
  if (header !== undefined && header.trim() !== '') {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(header);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  const said = failure === undefined ? null : /retry after (\d+(?:\.\d+)?)\s*s/i.exec(reasonOf(failure));
  if (said) return Number(said[1]) * 1000;
  const fromClient = (error as { retry_after?: unknown }).retry_after;
  return typeof fromClient === 'number' && Number.isFinite(fromClient) ? fromClient * 1000 : undefined;
}

/**
 * @param seenRetryAfter the `Retry-After` header of the failed call's answer, when it was observed
 *                       (`qdrantCall` does); without it the client's own parsing is used.
 */
export function classifyQdrantError(error: unknown, operation: string, seenRetryAfter?: string): RagsyncError {
  if (error instanceof RagsyncError) return error;
  const name = error instanceof Error ? error.name : '';
  const failure = httpFailure(error);
  // A failure without a status after an answer with Retry-After is the client's own 429 handling
  // failing to read the header (an HTTP date): still a 429.
  if (name === 'QdrantClientResourceExhaustedError' || failure?.status === 429 || (failure === undefined && seenRetryAfter !== undefined)) {
    const wait = retryAfterMs(error, failure, seenRetryAfter);
    return new RetryableError(`qdrant ${operation}: rate limited (429)`, { code: 'qdrant_rate_limited', cause: error, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
  }
  if (name === 'QdrantClientTimeoutError' || name === 'AbortError' || name === 'TimeoutError') {
    return new RetryableError(`qdrant ${operation}: timed out`, { code: 'qdrant_timeout', cause: error });
  }
  if (failure === undefined) {
    // fetch failed, connection refused or reset: the server may be back soon.
    const message = error instanceof Error ? error.message : String(error);
    return new RetryableError(`qdrant ${operation}: ${message}`, { code: 'qdrant_unreachable', cause: error });
  }
  const reason = reasonOf(failure);
  const message = `qdrant ${operation}: HTTP ${failure.status}: ${reason}`;
  if (failure.status === 401 || failure.status === 403) {
    return new SystemError(`${message} (check QDRANT_API_KEY)`, { code: 'qdrant_unauthorized', cause: error });
  }
  if (failure.status === 404) return new SystemError(message, { code: 'qdrant_collection_missing', cause: error });
  if (failure.status >= 500) {
    const wait = retryAfterMs(error, failure, seenRetryAfter);
    return new RetryableError(message, { code: 'qdrant_server_error', cause: error, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
  }
  if (failure.status === 400 && /dimension/i.test(reason)) {
    return new SystemError(message, { code: 'store_dimension_mismatch', cause: error });
  }
  return new PermanentError(message, { code: 'qdrant_rejected', cause: error });
}

/** Runs one client call and rethrows its failure classified. */
export async function qdrantCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  const seen: SeenHeaders = {};
  try {
    return await watchResponses(seen, call);
  } catch (error) {
    throw classifyQdrantError(error, operation, seen.retryAfter);
  }
}
