import { serveProcessHealth } from '../process-health.js';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { assertTenant } from '../../core/keys.js';
import { createLogger } from '../../observability/logger.js';
import { openRedis } from '../../producers/connect.js';
import { openOrderPublisher, runWoocommerceOrderPull } from '../../producers/woocommerce/orders.js';

export interface OrderPullCliOptions {
  once?: boolean;
  interval?: string;
  tenant?: string;
}

/** Adds the order pull's options to `run` (they apply to `run pull-woocommerce-orders` only). */
export function orderPullOptions(command: Command): Command {
  return command
    .option('--once', 'pull-woocommerce-orders: pull once and exit (for a CronJob) instead of every --interval')
    .option('--interval <seconds>', 'pull-woocommerce-orders: seconds between pulls', '300');
}

/**
 * `ragsync run pull-woocommerce-orders`: for every tenant with `targets.woocommerce` (or the one
 * named by --tenant), orders in status processing modified since the persisted watermark, to the
 * `orders` topic (docs/connectors/woocommerce.md). Run one replica: the watermark is per shop.
 */
export async function runOrderPull(options: OrderPullCliOptions & { port?: number }): Promise<void> {
  // `run pull-woocommerce-orders --port` moves its health endpoint, as it does a stage worker's.
  const config = loadConfig({ overrides: { 'http.port': options.port } });
  const logger = createLogger({ level: config.logLevel, name: 'pull-woocommerce-orders' });
  const intervalSeconds = Number(options.interval ?? '300');
  if (!(intervalSeconds > 0)) throw new Error(`--interval must be a positive number of seconds, got "${options.interval}"`);
  if (options.tenant !== undefined) assertTenant(options.tenant);
  const shops = Object.entries(config.tenants).flatMap(([tenant, t]) => (t.targets.woocommerce && (options.tenant === undefined || options.tenant === tenant) ? [{ tenant, target: t.targets.woocommerce }] : []));
  if (shops.length === 0) {
    throw new Error(`no tenant${options.tenant ? ` "${options.tenant}"` : ''} has targets.woocommerce (RAGSYNC_TENANTS or the config file; docs/connectors/woocommerce.md)`);
  }
  // A one-shot pull (`--once`, a CronJob) is over before anyone probes it.
  const health = options.once ? undefined : await serveProcessHealth(config, 'pull-woocommerce-orders', logger);
  const publisher = openOrderPublisher(config);
  const redis = openRedis(config);
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  health?.set('running');
  try {
    const counts = await Promise.all(
      shops.map(({ tenant, target }) =>
        runWoocommerceOrderPull({
          target,
          tenant,
          publisher,
          redis,
          keyPrefix: config.redis.keyPrefix,
          logger: logger.child({ tenant }),
          once: options.once ?? false,
          intervalMs: intervalSeconds * 1000,
          signal: stop.signal,
          // A failed pull keeps its watermark; the next interval tries again.
          // Still ready: the next interval tries again; the error shows on /readyz and /healthz.
          onError: (error) => {
            health?.set('running', error);
            logger.error({ tenant, err: error }, 'order pull failed; trying again at the next interval');
          },
        }),
      ),
    );
    logger.info({ published: counts.reduce((a, b) => a + b, 0) }, 'order pull stopped');
  } finally {
    health?.set('stopping');
    await publisher.close();
    redis.disconnect();
    await health?.close();
  }
}
