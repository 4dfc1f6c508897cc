import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The `Retry-After` of a 429 as the server sent it. `@qdrant/js-client-rest` (1.19) turns a 429
 * with the header into `QdrantClientResourceExhaustedError` with `retry_after` read from the
 * header's first character only (`headers.get('retry-after')?.[0]`): "30" becomes 3 seconds, an
 * HTTP date an unrelated error. So the header is read here, from undici's diagnostics channels
 * (a documented way to observe its requests): a request created while a call runs in
 * {@link withResponseHeaders} is tied to that call, and the answer's `Retry-After` is kept for it.
 */
const calls = new AsyncLocalStorage<SeenHeaders>();
const byRequest = new WeakMap<object, SeenHeaders>();
let subscribed = false;

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  diagnosticsChannel.subscribe('undici:request:create', (message) => {
    const call = calls.getStore();
    const request = (message as { request?: object }).request;
    if (call !== undefined && request !== undefined) byRequest.set(request, call);
  });
  diagnosticsChannel.subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request?: object; response?: { statusCode?: number; headers?: Array<Buffer | string> } };
    const call = request === undefined ? undefined : byRequest.get(request);
    if (call === undefined || response?.headers === undefined) return;
    const headers = response.headers;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === 'retry-after') call.retryAfter = String(headers[i + 1]);
    }
  });
}

/** What a call's answers said; `retryAfter` is the last `Retry-After` header received. */
export interface SeenHeaders {
  retryAfter?: string;
}

/** Runs `call`, noting in `seen` the `Retry-After` of the answers to the requests it makes. */
export function watchResponses<T>(seen: SeenHeaders, call: () => Promise<T>): Promise<T> {
  subscribe();
  return calls.run(seen, call);
}
