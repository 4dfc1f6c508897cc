import type { WoocommerceTarget } from '../../config/targets.js';
import { RateLimitedError } from '../../core/signals.js';
import { httpError, networkError } from './errors.js';
import { signUrl, type OAuthSignatureMethod } from './oauth.js';

export type WooClientTarget = Pick<WoocommerceTarget, 'url' | 'consumerKey' | 'consumerSecret' | 'auth' | 'timeoutMs'>;

export interface WooClientOptions {
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** OAuth signature method over plain HTTP. @defaultValue 'HMAC-SHA256' */
  signatureMethod?: OAuthSignatureMethod;
}

export interface WooResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export type QueryValue = string | number | boolean | undefined;

/**
 * The WooCommerce REST API v3 (`<url>/wp-json/wc/v3`). Authentication follows WooCommerce's rules:
 * HTTP Basic with the consumer key and secret over HTTPS, OAuth 1.0a one-legged (HMAC-SHA256,
 * parameters in the query) over plain HTTP; `auth: auto` picks by the URL's scheme. Every failure
 * is thrown classified (errors.ts) with a one-line message that never holds a secret or a
 * signature: only the host, the method and the path are named.
 */
export class WooClient {
  readonly host: string;
  readonly authMode: 'basic' | 'oauth';
  private readonly base: URL;
  private readonly fetchImpl: typeof fetch;

  constructor(
    private readonly target: WooClientTarget,
    private readonly options: WooClientOptions = {},
  ) {
    this.base = new URL(target.url);
    this.host = this.base.host;
    this.authMode = target.auth === 'auto' ? (this.base.protocol === 'https:' ? 'basic' : 'oauth') : target.auth;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  /** The full URL of an API path such as `/products/batch`, with the query (unsigned). */
  url(path: string, query: Record<string, QueryValue> = {}): URL {
    const url = new URL(`${this.base.pathname.replace(/\/$/, '')}/wp-json/wc/v3${path}`, this.base);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    return url;
  }

  async get<T>(path: string, query: Record<string, QueryValue> = {}, signal?: AbortSignal): Promise<WooResponse<T>> {
    return this.request<T>('GET', path, { query, signal });
  }

  async post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<WooResponse<T>> {
    return this.request<T>('POST', path, { body, signal });
  }

  async request<T>(method: string, path: string, options: { query?: Record<string, QueryValue>; body?: unknown; signal?: AbortSignal } = {}): Promise<WooResponse<T>> {
    const what = `${method} ${path}`;
    let url = this.url(path, options.query);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authMode === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${this.target.consumerKey}:${this.target.consumerSecret}`).toString('base64')}`;
    } else {
      url = signUrl(method, url, { consumerKey: this.target.consumerKey, consumerSecret: this.target.consumerSecret, signatureMethod: this.options.signatureMethod });
    }
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const timeout = AbortSignal.timeout(this.target.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, { method, headers, body, signal });
      text = await response.text();
    } catch (cause) {
      // A gated fetch (src/sinks/call-gate.ts) refused the call: no request was made.
      if (cause instanceof RateLimitedError) throw cause;
      throw networkError(this.host, what, cause, this.target.timeoutMs);
    }
    if (!response.ok) throw httpError(this.host, what, response.status, text, response.headers.get('retry-after'));
    let parsed: T;
    try {
      parsed = (text === '' ? null : JSON.parse(text)) as T;
    } catch {
      // A PHP notice before the JSON, or a proxy's page with status 200: the host is misbehaving.
      throw httpError(this.host, `${what}: the answer is not JSON`, 502, text, null);
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }
}
