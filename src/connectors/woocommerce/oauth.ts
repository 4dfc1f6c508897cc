import { createHmac, randomBytes } from 'node:crypto';

/**
 * OAuth 1.0a one-legged signing as WooCommerce checks it over plain HTTP
 * (class-wc-rest-authentication.php, RFC 5849 §3.4): no token, no `oauth_version`, the key is the
 * consumer secret followed by `&`. Query parameters are signed; a JSON body is not. The signature
 * travels in the query string, which every WordPress host passes on (an `Authorization` header is
 * dropped by some CGI setups).
 */
export type OAuthSignatureMethod = 'HMAC-SHA1' | 'HMAC-SHA256';

export interface OAuthSignOptions {
  consumerKey: string;
  consumerSecret: string;
  /** @defaultValue 'HMAC-SHA256' */
  signatureMethod?: OAuthSignatureMethod;
  /** Epoch seconds. @defaultValue now */
  timestamp?: number;
  /** @defaultValue 32 random hex digits */
  nonce?: string;
}

/** RFC 3986 percent-encoding (RFC 5849 §3.6): unreserved characters stay, everything else is %XX. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The base string URI (RFC 5849 §3.4.1.2): lowercase scheme and host, default port dropped, no query. */
export function baseStringUri(url: URL): string {
  return `${url.protocol.toLowerCase()}//${url.host.toLowerCase()}${url.pathname}`;
}

/** Signature base string of a request whose parameters (without `oauth_signature`) are `params`. */
export function signatureBaseString(method: string, url: URL, params: ReadonlyArray<readonly [string, string]>): string {
  const normalized = params
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return [method.toUpperCase(), percentEncode(baseStringUri(url)), percentEncode(normalized)].join('&');
}

/** Returns a copy of `url` with the `oauth_*` parameters and the signature added to its query. */
export function signUrl(method: string, url: URL, options: OAuthSignOptions): URL {
  const signatureMethod = options.signatureMethod ?? 'HMAC-SHA256';
  const signed = new URL(url);
  signed.searchParams.set('oauth_consumer_key', options.consumerKey);
  signed.searchParams.set('oauth_timestamp', String(options.timestamp ?? Math.floor(Date.now() / 1000)));
  signed.searchParams.set('oauth_nonce', options.nonce ?? randomBytes(16).toString('hex'));
  signed.searchParams.set('oauth_signature_method', signatureMethod);
  const base = signatureBaseString(method, signed, [...signed.searchParams.entries()]);
  const algorithm = signatureMethod === 'HMAC-SHA1' ? 'sha1' : 'sha256';
  const signature = createHmac(algorithm, `${options.consumerSecret}&`).update(base).digest('base64');
  signed.searchParams.set('oauth_signature', signature);
  return signed;
}
