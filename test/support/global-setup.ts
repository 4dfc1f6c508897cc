import { Redis } from 'ioredis';
import { kafkaAnswers } from '../../src/kafka/health.js';
import { stackEnv, stackLayout } from '../../src/stack/layout.js';
import { installKafka } from '../../src/stack/install.js';
import { stackUp } from '../../src/stack/stack.js';
import { edgePython } from './qdrant-server/python-env.js';
import { CONFLUENT_PYTHON, pythonEnv } from './python-env.js';

/**
 * Integration tests run against real services. When KAFKA_BROKERS, SCHEMA_REGISTRY_URL and
 * REDIS_URL are all set, those are used and nothing is started; otherwise the local stack is
 * brought up (idempotent). A service that does not answer fails the run: it is never a skip.
 */
async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url.replace(/\/$/, '')}/subjects`, { signal: AbortSignal.timeout(5000) });
    return response.ok;
  } catch {
    return false;
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export default async function setup(): Promise<void> {
  // The Qdrant test server's engine and a strict outside consumer run in Python: install them once,
  // before any test file needs them.
  // Confluent's own client decodes what ragsync wrote (test/integration/strict-decode.test.ts).
  // The two environments install side by side. Tests that stop and start a broker of their own
  // (test/faults/support/own-broker.ts) run Kafka's distribution: fetched here too, as `stack up` would,
  // for a run against services given by KAFKA_BROKERS & co. that never brings the local stack up.
  const log = (line: string) => console.log(`integration tests: ${line}`);
  await Promise.all([edgePython(log), pythonEnv(CONFLUENT_PYTHON, log), installKafka(stackLayout(), log)]);
  const names = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL'] as const;
  const external = names.filter((n) => process.env[n]);
  if (external.length < names.length) {
    console.log(`integration tests: bringing up the local stack for ${names.filter((n) => !process.env[n]).join(', ')}`);
    await stackUp((line) => console.log(`  ${line}`));
    const local = stackEnv(stackLayout());
    for (const name of names) process.env[name] ??= local[name];
  }
  const problems: string[] = [];
  const brokers = process.env.KAFKA_BROKERS!.split(',');
  if (!(await kafkaAnswers(brokers, 5000))) problems.push(`Kafka at KAFKA_BROKERS=${process.env.KAFKA_BROKERS} does not answer`);
  if (!(await registryAnswers(process.env.SCHEMA_REGISTRY_URL!))) problems.push(`Schema Registry at SCHEMA_REGISTRY_URL=${process.env.SCHEMA_REGISTRY_URL} does not answer`);
  if (!(await redisAnswers(process.env.REDIS_URL!))) problems.push('Redis at REDIS_URL does not answer');
  if (problems.length > 0) {
    throw new Error(`integration tests need real services: ${problems.join('; ')}`);
  }
}
