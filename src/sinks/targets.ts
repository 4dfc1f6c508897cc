import type { Redis } from 'ioredis';
import type { Targets } from '../config/index.js';
import type { Sink } from '../core/sink.js';
import type { TargetKind } from '../core/stages.js';
import { shopwareTestConnection } from '../connectors/shopware/index.js';
import { woocommerceTestConnection } from '../connectors/woocommerce/index.js';
import type { Logger } from '../observability/logger.js';
import { withKeyLocks } from './key-lock.js';
import { ShopwareSink } from './shopware/index.js';
import { webhookTestConnection, WebhookForwarderSink } from './webhook/index.js';
import { WoocommerceSink } from './woocommerce/index.js';

export interface TargetDeps {
  logger: Logger;
  /** The coordination Redis (the WooCommerce id mapping lives there); opened on first use. */
  redis: () => Redis;
  keyPrefix: string;
}

/** The sinks of one tenant's targets of a kind (a tenant has at most one shop of each kind, any number of webhook receivers). */
export function buildTargetSinks(kind: TargetKind, tenant: string, targets: Targets, deps: TargetDeps): Sink[] {
  const logger = deps.logger.child({ tenant });
  switch (kind) {
    // A shop's product, price and stock lanes hold a lock per key from their read to the shop's
    // answer, so their version guards never decide on what another lane is overwriting.
    case 'shopware':
      return targets.shopware ? [withKeyLocks(new ShopwareSink(targets.shopware, { logger, redis: deps.redis(), keyPrefix: deps.keyPrefix }), deps.redis(), { keyPrefix: deps.keyPrefix })] : [];
    case 'woocommerce':
      return targets.woocommerce ? [withKeyLocks(new WoocommerceSink(targets.woocommerce, { redis: deps.redis(), keyPrefix: deps.keyPrefix, logger }), deps.redis(), { keyPrefix: deps.keyPrefix })] : [];
    case 'webhooks':
      return targets.webhooks.map((target) => new WebhookForwarderSink(target, tenant, { logger, redis: deps.redis() }));
  }
}

/** One target `test-connection` can check: `<tenant>/<kind>[/<name>]` and the check itself. */
export interface TargetCheck {
  id: string;
  kind: TargetKind;
  tenant: string;
  check: () => Promise<string>;
}

/** Every target of every tenant, with its connection check (`ragsync test-connection`). */
export function targetChecks(tenants: Readonly<Record<string, { targets: Targets }>>): TargetCheck[] {
  return Object.entries(tenants).flatMap(([tenant, { targets }]): TargetCheck[] => [
    ...(targets.shopware ? [{ id: `${tenant}/shopware`, kind: 'shopware' as const, tenant, check: () => shopwareTestConnection(targets.shopware!) }] : []),
    ...(targets.woocommerce ? [{ id: `${tenant}/woocommerce`, kind: 'woocommerce' as const, tenant, check: () => woocommerceTestConnection(targets.woocommerce!) }] : []),
    ...targets.webhooks.map((target) => ({ id: `${tenant}/webhook/${target.name}`, kind: 'webhooks' as const, tenant, check: () => webhookTestConnection(target) })),
  ]);
}
