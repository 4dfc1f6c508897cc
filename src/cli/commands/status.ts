import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { storeTarget } from '../../consumers/store/store-sink.js';
import { RedisCircuitBreaker, type CircuitSnapshot } from '../../coordination/circuit-breaker.js';
import { createCoordinationRedis } from '../../coordination/redis.js';
import { describeError } from '../../core/errors.js';
import { enabledStages } from '../../core/stages.js';
import { createKafka } from '../../kafka/client.js';
import { retryStatus } from '../../kafka/retry-status.js';
import { createVectorStore } from '../../stores/index.js';
import { RegistryClient } from '../../kafka/registry.js';
import { RegistrySerde } from '../../kafka/serde.js';
import { canonicalKey, TraceUsageError, traceEntity } from '../entity-trace.js';
import { formatTrace, traceJson } from '../entity-trace-format.js';
import { collectStatus, declaredStages, formatStatus, type PipelineStatus } from '../status.js';
import { statusVerdict } from '../status-verdict.js';
import type { Redis } from 'ioredis';
import { configSecrets, secretScrubber } from './dlq.js';
import { storeDescription } from '../search.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('whether the pipeline keeps up, and why not: a verdict, then lag, rates, dead letters, circuits, retries and the index')
    .summary('lag, rates, dead letters, index, and a verdict')
    .argument('[key]', 'trace one entity: its record key, tenant/entity_type/entity_id/store_id (e.g. shop/product/SKU-1/1)')
    .option('--json', 'print JSON')
    .option('--no-store', 'skip the store (counting it, or reading the traced document)')
    .option('--timeout <seconds>', 'with a key: stop reading topics after this long', '120')
    .addHelpText(
      'after',
      `
The first line is a verdict: in sync, behind (lag, or a group whose oldest unprocessed
record passes half of its input's delete.retention.ms) or failing (dead letters, an open
circuit, missing topics, or a group older than delete.retention.ms: it may have missed
deletes), with the reasons.

Per stage: lag (end minus committed offsets, per partition too), records produced to its
inputs per second over the last minute (offsets by timestamp), records it processed per
second over the last minute (all replicas, recorded in Redis), the age of its oldest
unprocessed record (the timestamp of the record at the committed offset) and its DLQ
depth (records not replayed; \`ragsync dlq list\` for samples). Then dead letters by
reason, circuit states, retry tiers, documents and points per tenant and type, the last
event per entity type, freshness (source to index or shop) per change class, and the
embedding cache hit ratio over the last minute. --json prints the same for scripts.

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
      const status = await readPipelineStatus(config, { store: options.store });
      if (options.json) console.log(JSON.stringify(status, null, 2));
      else {
        const [verdict, ...rest] = formatStatus(status).split('\n');
        console.log(verdict);
        console.log(`ragsync status of ${status.at} (topic prefix ${config.topics.prefix}${options.store ? `, ${storeDescription(config)}` : ''})`);
        console.log(rest.join('\n'));
      }
    });
}

/**
 * Everything `status` shows, as `--json` prints it (the dashboard reads the same): Kafka's side
 * always; the store unless `store: false`; circuits and the replicas' activity from Redis when it
 * answers (said in `problems` when not).
 */
export async function readPipelineStatus(config: Config, options: { store: boolean; probeTimeoutMs?: number }): Promise<PipelineStatus> {
  const kafka = createKafka(config, { clientIdSuffix: 'status' });
  const store = options.store ? createVectorStore(config.store) : undefined;
  // Reads of many keys at once on a busy Redis: the client's 5 s command timeout, not a one-second deadline.
  const redis = createCoordinationRedis(config.redis.url);
  try {
    // A store that cannot be reached or counted is reported, with Kafka's side still shown.
    const reachable = await store?.connect().then(
      () => true,
      () => false,
    );
    const breakers = await circuits(config, redis);
    const retries = await retryStatus(kafka, { topicPrefix: config.topics.prefix, ...(config.runner.groupPrefix ? { groupPrefix: config.runner.groupPrefix } : {}), retryDelaysMs: config.topics.retryDelaysMs, terminalGroups: enabledStages(config.tenants).filter((s) => s.terminal).map((s) => s.group) });
    const status = await collectStatus(kafka, config, declaredStages(config), {
      ...(store && reachable ? { store } : {}),
      dlqMarks: true,
      detail: { ...(breakers.ok ? { redis } : {}), circuits: breakers.circuits, retries, ...(options.probeTimeoutMs ? { probeTimeoutMs: options.probeTimeoutMs } : {}) },
    });
    if (!breakers.ok) status.problems = [...(status.problems ?? []), breakers.problem];
    if (store && !reachable) status.storeProblem = `cannot connect to ${storeDescription(config)}`;
    // Error messages of dead letters and clients may carry what they were given: credentials masked.
    const scrub = secretScrubber([...configSecrets(config), config.dashboard.token]);
    status.dlqByReason = status.dlqByReason?.map((r) => ({ ...r, lastMessage: scrub(r.lastMessage) }));
    if (status.storeProblem !== undefined) status.storeProblem = scrub(status.storeProblem);
    if (status.problems) status.problems = status.problems.map(scrub);
    status.verdict = statusVerdict(status);
    return status;
  } finally {
    await store?.close().catch(() => undefined);
    redis.disconnect();
  }
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
async function circuits(config: Config, redis: Redis): Promise<{ ok: true; circuits: CircuitSnapshot[] } | { ok: false; circuits: CircuitSnapshot[]; problem: string }> {
  try {
    const breaker = new RedisCircuitBreaker(redis, { keyPrefix: config.redis.keyPrefix });
    return { ok: true, circuits: [await breaker.state(storeTarget(config.store))] };
  } catch (error) {
    return { ok: false, circuits: [], problem: `circuit states and activity unknown: Redis did not answer (${describeError(error)})` };
  }
}
