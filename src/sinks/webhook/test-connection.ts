import type { WebhookTarget } from '../../config/index.js';
import { RetryableError, SystemError } from '../../core/errors.js';
import { receiverLabel, signature, USER_AGENT } from './forwarder-sink.js';

/**
 * Checks a receiver without sending a change (docs/connectors/webhook-forwarder.md "Test
 * connection"). The format has no ping item, and an empty batch is refused by receivers (ragsync's
 * ingress answers 400 `items is empty`), so:
 *
 * - a URL ending in `/batch` (the module's route, `…/api/webhooks/magento/<tenant>/batch`) is
 *   checked the way the module's Test Connection does it: `GET …/<tenant>/status`, signed over
 *   the empty body, which ragsync's ingress verifies (a wrong secret gets 401);
 * - any other URL gets a `HEAD`: it proves the receiver answers, not that the secret matches.
 *
 * Resolves with one line saying what was proven; rejects with a SystemError for 401/403/404 and
 * other unexpected answers, a RetryableError when the receiver is down or unreachable. The
 * secret never appears in either.
 */
export async function webhookTestConnection(target: WebhookTarget, options: { fetch?: typeof fetch } = {}): Promise<string> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const label = receiverLabel(target);
  const url = new URL(target.url);
  const statusRoute = url.pathname.endsWith('/batch');
  if (statusRoute) url.pathname = `${url.pathname.slice(0, -'/batch'.length)}/status`;
  let response: Response;
  try {
    response = await doFetch(url, {
      method: statusRoute ? 'GET' : 'HEAD',
      headers: { 'user-agent': USER_AGENT, 'x-environment': 'production', ...(statusRoute ? { 'x-magento-webhook-signature': signature('', target.secret) } : {}) },
      redirect: 'manual',
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    await response.arrayBuffer();
  } catch (error) {
    throw new RetryableError(`${label} could not be reached: ${(error as Error).name === 'TimeoutError' ? `no answer within ${target.timeoutMs} ms` : 'network error'}`, { code: 'webhook_unreachable', cause: error });
  }
  const { status } = response;
  if (status === 401 || status === 403) throw new SystemError(`${label} refused the signature (${status}); check the receiver's secret`, { code: 'webhook_unauthorized' });
  if (status === 404) throw new SystemError(`${label} answered 404 on ${statusRoute ? 'its status route' : 'HEAD'}; check the URL and tenant`, { code: 'webhook_not_found' });
  if (status === 408 || status === 429 || status >= 500) throw new RetryableError(`${label} answered ${status}; it is not available now`, { code: 'webhook_unavailable' });
  if (statusRoute) {
    if (status !== 200) throw new SystemError(`${label} answered ${status} on its status route; expected 200`, { code: 'webhook_unexpected_status' });
    return `${label}: reachable, secret accepted (GET ${url.pathname} answered 200)`;
  }
  // A receiver that takes only POST may answer HEAD with 405: it is there all the same.
  if (status >= 300 && status < 400) throw new SystemError(`${label} redirects (${status}); configure the final URL`, { code: 'webhook_unexpected_status' });
  return `${label}: reachable (HEAD answered ${status}); the secret is checked on the first batch`;
}
