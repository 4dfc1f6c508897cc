import type { Redis } from 'ioredis';

/**
 * Remembers delivered batch ids per tenant, so a batch the Magento module resends (its answer was
 * lost, or its retry cron fired twice) is answered 202 without being published again. A batch id
 * is marked only after Kafka acknowledged every record: a batch that got a 503 and is resent is
 * published. Redis is a cache here (docs/design.md §2): if it fails, a batch is published again, which
 * the version guard makes harmless.
 */
export interface BatchDedupe {
  /** True when the batch was delivered within the window. */
  seen(tenant: string, batchId: string): Promise<boolean>;
  /** Marks the batch delivered for `windowSeconds`. */
  mark(tenant: string, batchId: string): Promise<void>;
}

export function createRedisBatchDedupe(redis: Redis, options: { keyPrefix: string; windowSeconds: number }): BatchDedupe {
  const keyOf = (tenant: string, batchId: string) => `${options.keyPrefix}webhook:batch:${tenant}:${batchId}`;
  return {
    async seen(tenant, batchId) {
      return (await redis.exists(keyOf(tenant, batchId))) === 1;
    },
    async mark(tenant, batchId) {
      await redis.set(keyOf(tenant, batchId), String(Date.now()), 'EX', options.windowSeconds, 'NX');
    },
  };
}
