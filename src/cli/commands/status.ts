import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { storeTarget } from '../../consumers/store/store-sink.js';
import { RedisCircuitBreaker, type CircuitSnapshot } from '../../coordination/circuit-breaker.js';
import { createCoordinationRedis } from '../../coordination/redis.js';
import { describeError } from '../../core/errors.js';
import { createKafka } from '../../kafka/client.js';
import { formatRetryStatus, retryStatus } from '../../kafka/retry-status.js';
import { createVectorStore } from '../../stores/index.js';
import { RegistryClient } from '../../kafka/registry.js';
import { RegistrySerde } from '../../kafka/serde.js';
import { canonicalKey, TraceUsageError, traceEntity } from '../entity-trace.js';
import { formatTrace, traceJson } from '../entity-trace-format.js';
import { collectStatus, declaredStages, formatStatus } from '../status.js';
import { configSecrets, secretScrubber } from './dlq.js';
import { storeDescription } from '../search.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('lag of each stage and retry consumer, DLQ depth, retry tiers, circuit states, and what the store holds')
    .summary('lag, DLQ depth, retries, circuits and store counts')
    .argument('[key]', 'trace one entity: its record key, tenant/entity_type/entity_id/store_id (e.g. shop/product/SKU-1/1)')
    .option('--json', 'print JSON')
    .option('--no-store', 'skip the store (counting it, or reading the traced document)')
    .option('--timeout <seconds>', 'with a key: stop reading topics after this long', '120')
    .addHelpText(
      'after',
      `
Lag is per consumer group over its inputs (records not yet committed). DLQ depth counts the
dead-lettered records still held that were not replayed (\`ragsync dlq list\` for codes and
samples). Retry tiers show what waits in <group>.retry.<delay> and when it is due. A circuit
that is open pauses its stage until the target answers again.

With a key (as logs and DLQ records print it), the entity is traced instead: the newest record
of the key on each topic it travels through (its change topic, price and stock for products,
documents, chunks, vectors, the retry topics of the groups that write it), whether each
consumer group has processed it, the document's head in the store, the versions each shop
of its tenant holds, its dead-lettered records, and a one-line verdict. Only the partition
the key maps to is read, up to the end offsets of the moment the command starts.`,
    )
    .action(async (keyText: string | undefined, options: { json?: boolean; store: boolean; timeout: string }, command: Command) => {
      if (keyText !== undefined) {
        await traceCommand(command, keyText, options);
        return;
      }
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

/** `status <key>`: a malformed key or timeout is a usage error, one line and exit code 2. */
async function traceCommand(command: Command, keyText: string, options: { json?: boolean; store: boolean; timeout: string }): Promise<void> {
  const timeout = Number(options.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) command.error(`error: --timeout "${options.timeout}" is not a positive number of seconds`, { exitCode: 2 });
  try {
    canonicalKey(keyText);
  } catch (error) {
    if (error instanceof TraceUsageError) command.error(`error: ${error.message}`, { exitCode: 2 });
    throw error;
  }
  const config = loadConfig();
  const kafka = createKafka(config, { clientIdSuffix: 'status' });
  const scrub = secretScrubber(configSecrets(config));
  const store = options.store ? createVectorStore(config.store) : undefined;
  const needsRedis = Object.values(config.tenants).some((t) => t.targets.shopware !== undefined || t.targets.woocommerce !== undefined);
  const redis = needsRedis ? createCoordinationRedis(config.redis.url) : undefined;
  let serde: RegistrySerde | undefined;
  const description = scrub(storeDescription(config));
  // Progress of long reads on stderr: rewritten in place on a terminal, a line every few seconds otherwise.
  const tty = process.stderr.isTTY === true;
  const shown = new Map<string, number>();
  const onProgress = (what: string, read: number, total: number) => {
    const last = shown.get(what) ?? 0;
    const now = Date.now();
    if (read < total && now - last < (tty ? 200 : 5000)) return;
    shown.set(what, now);
    const line = `reading ${what}: ${read}/${total} records`;
    process.stderr.write(tty ? `\r${line}${read >= total ? '\n' : ''}` : `${line}\n`);
  };
  try {
    let storeProblem: string | undefined;
    if (store) await store.connect().catch((error: unknown) => (storeProblem = `cannot connect: ${describeError(error)}`));
    const trace = await traceEntity(
      kafka,
      config,
      keyText,
      {
        ...(store ? { storeDescription: description, ...(storeProblem === undefined ? { store } : { storeProblem }) } : {}),
        ...(redis ? { redis } : {}),
        decode: (topic, bytes) => (serde ??= new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix })).decode(topic, bytes),
        scrub,
      },
      { timeoutMs: timeout * 1000, onProgress },
    );
    if (options.json) console.log(traceJson(trace));
    else for (const line of formatTrace(trace)) console.log(line);
  } finally {
    await store?.close().catch(() => undefined);
    redis?.disconnect();
  }
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
