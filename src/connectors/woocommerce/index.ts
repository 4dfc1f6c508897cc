export { WooClient, type WooClientOptions, type WooClientTarget, type WooResponse, type QueryValue } from './client.js';
export { woocommerceTestConnection } from './test-connection.js';
export { httpError, itemError, networkError, retryAfterMs, type WooErrorBody } from './errors.js';
export { signUrl, signatureBaseString, percentEncode, type OAuthSignatureMethod } from './oauth.js';
export { wooFingerprint, FINGERPRINT_META_KEY, type WooProductFields } from './fingerprint.js';
export type { WooProduct, WooMeta, WooBatchRequest, WooBatchResponse, WooBatchItem, WooOrder, WooOrderLine } from './types.js';
