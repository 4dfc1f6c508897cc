import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';

/**
 * Remembers delivered batch ids, so a batch the Magento module resends (its answer was lost, or
 * its retry cron fired twice) is answered 202 without being published again.
 *
 * A batch is claimed before it is published, in one atomic step (`SET key pending:<token> NX PX`),
 * so of identical requests arriving together exactly one publishes. The claim becomes `done` (kept
 * for the dedupe window) once Kafka acknowledged the batch, and is released when publishing failed,
 * so the module's resend after a 503 is published. A claim whose holder died expires after
 * `pendingMs`. Records are scoped to the topic prefix: two deployments that share a Redis but
 * publish to different topics each publish the batch. Redis is a cache here (docs/design.md §2):
 * when it fails, the batch is published (again), which versions make harmless.
 */
export type ClaimResult =
  | { state: 'claimed'; claim: BatchClaim }
  /** Delivered within the window. */
  | { state: 'done' }
  /** Another request is publishing it right now. */
  | { state: 'pending' };

export interface BatchClaim {
  /** Marks the batch delivered for the dedupe window. */
  done(): Promise<void>;
  /** Gives the batch up (publishing failed), unless the claim expired and another request took it. */
  release(): Promise<void>;
}

export interface BatchDedupe {
  claim(tenant: string, batchId: string): Promise<ClaimResult>;
}

export interface BatchDedupeOptions {
  /** Prefix of ragsync's Redis keys (`redis.keyPrefix`). */
  keyPrefix: string;
  /** The deployment's topic prefix (`topics.prefix`): a batch is delivered per set of topics. */
  topicPrefix: string;
  /** How long a delivered batch is remembered (`webhook.dedupeWindowSeconds`). */
  windowSeconds: number;
  /** How long a claim holds without being settled (longer than any publish may take). */
  pendingMs: number;
}

const DONE = 'done';

/** Deletes the key only while it still holds this request's claim. */
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export function createRedisBatchDedupe(redis: Redis, options: BatchDedupeOptions): BatchDedupe {
  // The topic prefix matches [A-Za-z0-9._-]* and tenants have no colon: the batch id, last, may hold anything.
  const keyOf = (tenant: string, batchId: string) => `${options.keyPrefix}webhook:batch:${options.topicPrefix}:${tenant}:${batchId}`;
  return {
    async claim(tenant, batchId) {
      const key = keyOf(tenant, batchId);
      const token = `pending:${randomUUID()}`;
      const set = await redis.set(key, token, 'PX', options.pendingMs, 'NX');
      if (set === 'OK') {
        return {
          state: 'claimed',
          claim: {
            async done() {
              await redis.set(key, DONE, 'EX', options.windowSeconds);
            },
            async release() {
              await redis.eval(RELEASE, 1, key, token);
            },
          },
        };
      }
      // A claim released or expired between the two calls also reads as pending: the caller asks again.
      return (await redis.get(key)) === DONE ? { state: 'done' } : { state: 'pending' };
    },
  };
}
