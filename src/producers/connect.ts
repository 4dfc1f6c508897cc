import { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { createKafka } from '../kafka/client.js';
import { KafkaChangeSink } from '../kafka/producer.js';

/**
 * The ChangeSink every connector publishes through: the idempotent Kafka producer with Avro values
 * from the registry. It connects on first publish, so a command that only validates (a dry run)
 * opens no connection. With a logger, a producer replaced after a failed send is logged.
 */
export async function openChangeSink(config: Config, options: { logger?: { warn(object: object, message: string): void }; bulk?: boolean } = {}): Promise<KafkaChangeSink> {
  const { logger } = options;
  return new KafkaChangeSink(createKafka(config, { clientIdSuffix: 'producer' }), config, {
    // Bulk loads (`catalog sync`) and the webhook ingress build their produce requests on a
    // thread of their own, as `publish` does, so reading and encoding keeps the main thread.
    ...(options.bulk ? { producerThread: { clientIdSuffix: 'producer' } } : {}),
    ...(logger ? { onProducerReplaced: (cause: Error) => logger.warn({ err: cause }, 'Kafka producer replaced after a failed send (its idempotent sequence state may be out of step)') } : {}),
  });
}

/**
 * Opens the Redis connection a connector uses for its state (batch dedupe, catalog hashes, ERP
 * streams). Request/response users fail fast when Redis is down instead of queueing forever; a
 * blocking stream reader keeps reconnecting. The URL (which may hold a password) never appears in
 * an error.
 */
export function openRedis(config: Pick<Config, 'redis'>, options: { blocking?: boolean } = {}): Redis {
  const redis = new Redis(config.redis.url, {
    maxRetriesPerRequest: options.blocking ? null : 2,
    connectTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // ioredis emits connection errors as events; the failing command rejects with its own error.
  redis.on('error', () => undefined);
  return redis;
}
