import type { ShopwareTarget } from '../../config/targets.js';
import type { Logger } from '../../observability/logger.js';
import { ShopwareClient } from './client.js';

export { ShopwareClient, type ShopwareClientOptions } from './client.js';
export { ShopwareRejectedError, parseErrorBody, describeEntry } from './errors.js';
export * from './types.js';

/** A client for a configured target. */
export function shopwareClient(target: ShopwareTarget, options: { logger?: Logger; fetch?: typeof fetch } = {}): ShopwareClient {
  return new ShopwareClient({
    url: target.url,
    clientId: target.clientId,
    clientSecret: target.clientSecret,
    timeoutMs: target.timeoutMs,
    ...options,
  });
}

/**
 * `test-connection` for a Shopware target: fetches a token and makes one authorized call. Resolves
 * to a one-line summary; rejects with a classified error whose message names the cause in one line.
 */
export function shopwareTestConnection(target: ShopwareTarget, options: { fetch?: typeof fetch } = {}): Promise<string> {
  return shopwareClient(target, options).testConnection();
}
