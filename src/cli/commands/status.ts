import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { storeTarget } from '../../consumers/store/store-sink.js';
import { RedisCircuitBreaker, type CircuitSnapshot } from '../../coordination/circuit-breaker.js';
import { createCoordinationRedis } from '../../coordination/redis.js';
import { describeError } from '../../core/errors.js';
import { createKafka } from '../../kafka/client.js';
import { formatRetryStatus, retryStatus } from '../../kafka/retry-status.js';
import { createVectorStore } from '../../stores/index.js';
import { collectStatus, declaredStages, formatStatus } from '../status.js';
import { storeDescription } from '../search.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('lag of each stage and retry consumer, DLQ depth, retry tiers, circuit states, and what the store holds')
    .summary('lag, DLQ depth, retries, circuits and store counts')
    .option('--json', 'print JSON')
    .option('--no-store', 'skip counting the store')
    .addHelpText(
      'after',
      `
Lag is per consumer group over its inputs (records not yet committed). DLQ depth counts the
dead-lettered records still held that were not replayed (\`ragsync dlq list\` for codes and
samples). Retry tiers show what waits in <group>.retry.<delay> and when it is due. A circuit
that is open pauses its stage until the target answers again.`,
    )
    .action(async (options: { json?: boolean; store: boolean }) => {
      const config = loadConfig();
      const kafka = createKafka(config);
      const store = options.store ? createVectorStore(config.store) : undefined;
      try {
        // A store that cannot be reached or counted is reported below, with Kafka's side still shown.
        const reachable = await store?.connect().then(
          () => true,
          () => false,
        );
        const status = await collectStatus(kafka, config, declaredStages(config), { ...(store && reachable ? { store } : {}), dlqMarks: true });
        if (store && !reachable) status.storeProblem = `cannot connect to ${storeDescription(config)}`;
        status.circuits = await circuits(config);
        const retries = await retryStatus(kafka, { topicPrefix: config.topics.prefix, ...(config.runner.groupPrefix ? { groupPrefix: config.runner.groupPrefix } : {}), retryDelaysMs: config.topics.retryDelaysMs });
        if (options.json) console.log(JSON.stringify({ ...status, retries }, null, 2));
        else {
          console.log(`ragsync status (topic prefix ${config.topics.prefix}${store ? `, ${storeDescription(config)}` : ''})`);
          console.log(formatStatus(status));
          for (const line of formatRetryStatus(retries, Date.now())) console.log(`  ${line}`);
        }
      } finally {
        await store?.close().catch(() => undefined);
      }
    });
}

/** The store target's circuit as the replicas share it in Redis; none when Redis does not answer. */
async function circuits(config: Config): Promise<CircuitSnapshot[]> {
  const redis = createCoordinationRedis(config.redis.url);
  try {
    const breaker = new RedisCircuitBreaker(redis, { keyPrefix: config.redis.keyPrefix });
    return [await breaker.state(storeTarget(config.store))];
  } catch (error) {
    console.error(`circuit states unknown: Redis did not answer (${describeError(error)})`);
    return [];
  } finally {
    redis.disconnect();
  }
}
