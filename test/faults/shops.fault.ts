import { describe, it } from 'vitest';
import { slowAndLimitedShops } from './scenarios/shops.js';

/** FAULTS_SCALE below 1 runs it with fewer events, for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');

describe('shops that limit, fail and stall', () => {
  it('429 with Retry-After 30, 503s and 35 s latency from Shopware and WooCommerce: no call before its deadline, nothing dead-lettered, index and shops as expected', async ({ task }) => {
    await slowAndLimitedShops(
      '8. shops: 429 Retry-After 30, 503s, 35 s latency',
      { events: Math.round(3_000 * SCALE), keys: Math.max(20, Math.round(300 * SCALE)), unavailableMs: 15_000, retryAfterSeconds: 30, latencyMs: 35_000 },
      (row) => (task.meta.fault = row),
    );
  });
});
