import { PermanentError, RagsyncError, RetryableError, SystemError } from '../../core/errors.js';

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

function retryAfterMs(error: unknown, failure: HttpFailure | undefined): number | undefined {
  const fromClient = (error as { retry_after?: unknown }).retry_after;
  if (typeof fromClient === 'number') return fromClient * 1000;
  const header = failure?.headers?.get('retry-after');
  const seconds = header === null || header === undefined ? NaN : Number(header);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

export function classifyQdrantError(error: unknown, operation: string): RagsyncError {
  if (error instanceof RagsyncError) return error;
  const name = error instanceof Error ? error.name : '';
  const failure = httpFailure(error);
  if (name === 'QdrantClientResourceExhaustedError' || failure?.status === 429) {
    const wait = retryAfterMs(error, failure);
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
  if (failure.status >= 500) return new RetryableError(message, { code: 'qdrant_server_error', cause: error });
  if (failure.status === 400 && /dimension/i.test(reason)) {
    return new SystemError(message, { code: 'store_dimension_mismatch', cause: error });
  }
  return new PermanentError(message, { code: 'qdrant_rejected', cause: error });
}

/** Runs one client call and rethrows its failure classified. */
export async function qdrantCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw classifyQdrantError(error, operation);
  }
}
