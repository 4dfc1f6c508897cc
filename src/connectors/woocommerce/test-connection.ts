import type { WoocommerceTarget } from '../../config/targets.js';
import { WooClient, type WooClientOptions } from './client.js';

/**
 * One cheap authorized call (`GET /products?per_page=1`) and a one-line summary of the shop, for
 * `test-connection`. Throws the classified error of the call, whose message names the cause in one
 * line (e.g. `woocommerce shop.example: 401 woocommerce_rest_authentication_error … (check
 * consumerKey/consumerSecret …)`).
 */
export async function woocommerceTestConnection(target: WoocommerceTarget, options: WooClientOptions = {}): Promise<string> {
  const client = new WooClient(target, options);
  const started = Date.now();
  const response = await client.get<unknown[]>('/products', { per_page: 1 });
  const total = response.headers.get('x-wp-total');
  const products = total === null ? 'product count not given' : `${total} products`;
  return `woocommerce ${client.host}: connected with ${client.authMode === 'basic' ? 'HTTP Basic' : 'OAuth 1.0a'} in ${Date.now() - started} ms, ${products}`;
}
