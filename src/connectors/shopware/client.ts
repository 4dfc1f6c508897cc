import type { Logger } from '../../observability/logger.js';
import { SystemError } from '../../core/errors.js';
import { RateLimitedError } from '../../core/signals.js';
import { apiError, networkError, oneLine, tokenError, type ErrorContext } from './errors.js';
import type { Criteria, SearchResponse, ShopwareProduct, SyncOperations, SyncOptions, SyncResponse } from './types.js';

export interface ShopwareClientOptions {
  /** Base URL of the shop; the Admin API is under `<url>/api`. */
  url: string;
  /** Integration access key id (SWIA…). */
  clientId: string;
  clientSecret: string;
  /** Per request. @defaultValue 30_000 */
  timeoutMs?: number;
  /**
   * How long before its expiry a token is replaced; at most half its lifetime, so a short-lived
   * token is still used more than once. @defaultValue 30_000
   */
  refreshMarginMs?: number;
  fetch?: typeof fetch;
  logger?: Logger;
  now?: () => number;
}

interface CachedToken {
  value: string;
  expiresAt: number;
  refreshAt: number;
}

/**
 * A client of Shopware 6's Admin API (docs/connectors/shopware.md) with integration credentials
 * (OAuth client credentials). The access token (10 minutes by default, no refresh token) is cached
 * and replaced shortly before it expires; concurrent calls share one token request, because the
 * token endpoint is throttled per IP. An API call answered 401 gets one fresh token and one more
 * try. Every failure is classified (src/connectors/shopware/errors.ts); secrets never reach a
 * message or a log line.
 */
export class ShopwareClient {
  readonly host: string;
  private readonly base: URL;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private token: CachedToken | undefined;
  private pending: Promise<CachedToken> | undefined;

  constructor(private readonly options: ShopwareClientOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.host = this.base.host;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  /** `POST /api/_action/sync`: all operations in one transaction. */
  async sync(operations: SyncOperations, options: SyncOptions = {}): Promise<SyncResponse> {
    const headers: Record<string, string> = {};
    if (options.indexingBehavior !== undefined) headers['indexing-behavior'] = options.indexingBehavior;
    return (await this.call('POST', 'api/_action/sync', operations, headers)) as SyncResponse;
  }

  /** `POST /api/search/product` with plain JSON (not JSON:API) answers. */
  async searchProducts(criteria: Criteria): Promise<SearchResponse<ShopwareProduct>> {
    const answer = (await this.call('POST', 'api/search/product', criteria)) as Partial<SearchResponse<ShopwareProduct>>;
    if (!Array.isArray(answer?.data)) throw new SystemError(`shopware ${this.host}: POST /api/search/product answered without data[]`, { code: 'shopware_bad_answer' });
    return { total: typeof answer.total === 'number' ? answer.total : answer.data.length, data: answer.data };
  }

  /** `GET /api/_info/version`: the cheapest authorized call. */
  async version(): Promise<string> {
    const answer = (await this.call('GET', 'api/_info/version')) as { version?: unknown };
    return typeof answer?.version === 'string' ? answer.version : 'unknown';
  }

  /** Fetches a token and makes one authorized call; throws a classified error with the cause in one line. */
  async testConnection(): Promise<string> {
    this.token = undefined;
    const token = await this.currentToken();
    const version = await this.version();
    const validFor = Math.round((token.expiresAt - this.now()) / 1000);
    return `shopware ${this.host}: ok, Shopware ${version}, token valid for ${validFor} s`;
  }

  /** A valid access token, fetched when there is none or it is about to expire. */
  async accessToken(): Promise<string> {
    return (await this.currentToken()).value;
  }

  private async currentToken(): Promise<CachedToken> {
    if (this.token !== undefined && this.now() < this.token.refreshAt) return this.token;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    this.token = await this.pending;
    return this.token;
  }

  private async fetchToken(): Promise<CachedToken> {
    const context = this.context('POST /api/oauth/token');
    const body = { grant_type: 'client_credentials', client_id: this.options.clientId, client_secret: this.options.clientSecret };
    let response: Response;
    try {
      response = await this.fetch(new URL('api/oauth/token', this.base), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      // A gated fetch (src/sinks/call-gate.ts) refused the call: no request was made.
      if (error instanceof RateLimitedError) throw error;
      throw networkError(error, context);
    }
    const text = await response.text();
    if (!response.ok) throw tokenError(response.status, response.headers, text, context);
    let answer: { access_token?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      answer = {};
    }
    if (typeof answer.access_token !== 'string' || answer.access_token === '') {
      throw new SystemError(`shopware ${this.host}: the token endpoint answered ${response.status} without an access_token`, { code: 'shopware_bad_answer' });
    }
    const lifetimeMs = (typeof answer.expires_in === 'number' ? answer.expires_in : 600) * 1000;
    const margin = Math.min(this.options.refreshMarginMs ?? 30_000, lifetimeMs / 2);
    const fetchedAt = this.now();
    this.options.logger?.debug({ target: `shopware:${this.host}`, expiresInSeconds: lifetimeMs / 1000 }, 'shopware access token fetched');
    return { value: answer.access_token, expiresAt: fetchedAt + lifetimeMs, refreshAt: fetchedAt + lifetimeMs - margin };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const context = this.context(`${method} /${path}`);
    let token = await this.currentToken();
    let response = await this.send(method, path, body, headers, token.value, context);
    if (response.status === 401) {
      await response.body?.cancel();
      // Revoked, expired early (clock skew) or the shop restarted with new keys: one fresh token.
      if (this.token === token) this.token = undefined;
      token = await this.currentToken();
      response = await this.send(method, path, body, headers, token.value, context);
    }
    const text = await response.text();
    if (!response.ok) throw apiError(response.status, response.headers, text, context);
    if (text === '') return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new SystemError(`shopware ${this.host}: ${context.call} answered ${response.status} with no JSON (${context.redact(oneLine(text, 100))})`, {
        code: 'shopware_bad_answer',
      });
    }
  }

  private async send(method: string, path: string, body: unknown, headers: Record<string, string>, token: string, context: ErrorContext): Promise<Response> {
    try {
      return await this.fetch(new URL(path, this.base), {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      if (error instanceof RateLimitedError) throw error;
      throw networkError(error, context);
    }
  }

  private context(call: string): ErrorContext {
    return {
      host: this.host,
      call,
      // Read when a message is made, so a token fetched after the context was made is covered too.
      redact: (text) =>
        [this.options.clientSecret, this.token?.value]
          .filter((secret): secret is string => secret !== undefined && secret.length >= 4)
          .reduce((out, secret) => out.split(secret).join('[redacted]'), text),
    };
  }
}
