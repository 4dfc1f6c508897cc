import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { STAGES, type StageName } from '../core/stages.js';
import { withAdmin } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { verifyTopics } from '../kafka/topics.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createCollectionAliases, createVectorStore, type VectorStore } from '../stores/index.js';
import { DEFAULT_ALIAS_TTL_MS } from '../stores/lancedb/alias.js';
import { ResyncLock } from './lock.js';
import { committedOffsets, deleteGroups, deleteRetentionMs, endOffsets, groupMembers, groupsWithPrefix, passProgress, topicSpans, type KafkaClient, type Offsets } from '../kafka/group-offsets.js';
import { derivedInputs, keyFilter, newResyncId, resyncGroupPrefix, ResyncUsageError, sameResync, sourceTopics, stagesFrom, type ResyncOptions } from './options.js';
import { etaSeconds, RateMeter, type ProgressSink, type ResyncPhase } from './progress.js';
import { StageThreads, threadGroups } from '../cli/stage-threads.js';
import { ResyncPipeline } from './resync-pipeline.js';
import { sweep } from './sweep.js';

/**
 * `ragsync resync` (docs/resync.md): replays the compacted topics in fresh consumer groups
 * (`<group prefix>resync-<id>.<group>`) into the configured collection, or into a new one whose
 * name then becomes what the configured name stands for; sweeps documents no source holds any
 * more; deletes the groups of finished resyncs and the delete markers older than the topics keep
 * tombstones. One resync per collection runs at a time (a Redis lock); a stopped one resumes
 * when run again with the same options (its groups keep their offsets).
 */
export interface ResyncDeps {
  config: Config;
  logger: Logger;
  progress: ProgressSink;
  /** Stops the resync at the next safe point (never in the middle of a switch). */
  signal: AbortSignal;
  /** How often offsets are polled. @defaultValue 1000 */
  pollMs?: number;
}

export interface ResyncResult {
  id: string;
  from: ResyncOptions['from'];
  /** The configured collection name. */
  collection: string;
  /** The collection written: the configured one, or --into. */
  target: string;
  switched?: { alias: string; previous: string; now: string; adopted: boolean };
  /** Records the store stage's group read in the replay. */
  replayed: number;
  swept: string[];
  purgedMarkers: number;
  groupsDeleted: string[];
}

/** A resync stopped before it finished (Ctrl-C, or a failure): how to go on is in the message. */
export class ResyncStoppedError extends Error {
  override readonly name = 'ResyncStoppedError';
}

interface StoredState {
  id: string;
  options: ResyncOptions;
  startedAt: string;
  /**
   * End offsets (full topic name → partition → offset) of the topics the replay fills itself
   * (derivedInputs), taken when it began: where the groups of the stages reading them start.
   * Absent in the state of a resync begun by an older version: those groups start at the beginning.
   */
  starts?: Record<string, Record<string, number>>;
}

/** How long LanceDB writes of other processes wait at most for the catch-up after a switch. */
const HOLD_WRITES_MS = 10 * 60_000;

const keys = (config: Config) => ({
  lock: `${config.redis.keyPrefix}resync:lock:${config.store.collection}`,
  state: `${config.redis.keyPrefix}resync:state:${config.store.collection}`,
});

const basePrefix = (config: Config) => config.runner.groupPrefix ?? config.topics.prefix;

function where(config: Config): string {
  return config.store.qdrantUrl !== undefined ? `Qdrant at ${new URL(config.store.qdrantUrl).host}` : `LanceDB at ${config.store.lancedbPath}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function runResync(options: ResyncOptions, deps: ResyncDeps): Promise<ResyncResult> {
  const { config, progress, signal } = deps;
  const pollMs = deps.pollMs ?? 1000;
  const kafka = createKafka(config);
  const name = config.store.collection;
  const prefix = config.topics.prefix;
  const stages = stagesFrom(options.from);
  const report = (phase: ResyncPhase, message: string) => progress.update({ phase, done: 0, total: 0, rate: 0, etaSeconds: null, message });

  report('prepare', `checking topics and the collection "${name}" (${where(config)})`);
  const logical = [...new Set(stages.flatMap((s) => [...STAGES[s].inputs, ...(STAGES[s].output ? [STAGES[s].output] : [])]))];
  await withAdmin(kafka, (admin) => verifyTopics(admin, config, logical));

  const aliases = createCollectionAliases(config.store);
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 2, connectTimeout: 5000, lazyConnect: true });
  redis.on('error', () => undefined);
  const lock = new ResyncLock(redis, keys(config).lock);
  let pipeline: StageThreads | undefined;
  let phase: ResyncPhase = 'prepare';
  let switchDone = false;
  let sweepStore: VectorStore | undefined;
  try {
    await redis.connect().catch((error: unknown) => {
      throw new ResyncUsageError(`Redis at ${config.redis.url.replace(/\/\/[^@/]*@/, '//***@')} does not answer (${(error as Error).message}): a resync takes its lock there`);
    });
    await lock.acquire();
    const current = await aliases.resolve(name);
    const stored = await readState(redis, config);
    if (stored !== undefined && !sameResync(stored.options, options)) {
      throw new ResyncUsageError(
        `an unfinished resync of "${name}" (${stored.id}, ${describeOptions(stored.options)}) exists: run it again with the same options to resume it, ` +
          'or `ragsync resync --abandon` to drop it',
      );
    }
    let target = name;
    if (options.into !== undefined) {
      if (current === options.into && stored === undefined) throw new ResyncUsageError(`--into: "${name}" already stands for "${options.into}"; name a new collection`);
      if (stored === undefined && (await aliases.exists(options.into))) {
        throw new ResyncUsageError(`--into: collection "${options.into}" already exists (${where(config)}); name a new one`);
      }
      target = options.into;
    } else if (current === undefined) {
      throw new ResyncUsageError(`unknown collection "${name}" (${where(config)}): there is nothing to resync in place; fill it with \`ragsync run\`, or a new one with --into`);
    } else if (aliases.kind === 'lancedb') {
      const live = `${basePrefix(config)}${STAGES.store.group}`;
      if ((await groupMembers(kafka, live)) > 0) {
        throw new ResyncUsageError(
          `store workers of group ${live} are running: a LanceDB table takes one writer per document, so an in-place resync would race them; ` +
            'use --into <new table> (live workers go on and follow the switch), or stop the store workers first',
        );
      }
    }
    const derived = derivedInputs(stages).map(({ stage, topics }) => ({ stage, topics: topics.map((t) => `${prefix}${t}`) }));
    const state: StoredState = stored ?? {
      id: newResyncId(new Date(), randomBytes(2).toString('hex')),
      options,
      startedAt: new Date().toISOString(),
      starts: offsetsRecord(await endOffsets(kafka, derived.flatMap((d) => d.topics))),
    };
    await redis.set(keys(config).state, JSON.stringify(state));
    const groupPrefix = resyncGroupPrefix(basePrefix(config), state.id);
    const starts = recordOffsets(state.starts ?? {});
    for (const { stage, topics } of derived) await startGroupAt(kafka, `${groupPrefix}${STAGES[stage].group}`, topics, starts);
    const inScope = keyFilter(options);
    const everything = options.tenant === undefined && options.types === undefined;

    // Vectors carry their model: a new collection for them takes the spec of the one they came from.
    const spec = options.from === 'vectors' && current !== undefined ? await aliases.spec(current) : undefined;
    const resyncConfig: Config = { ...config, runner: { ...config.runner, groupPrefix }, store: { ...config.store, collection: target } };
    // Spread over threads as `run` spreads its stages (RAGSYNC_STAGE_THREADS): on a machine with
    // cores to spare, one thread running every stage of the replay would be its limit.
    const groups = threadGroups(stages, config.runner.threads);
    const pipelineOptions = { config: resyncConfig, logger: deps.logger, metrics: createMetrics({ defaultMetrics: false, processMetrics: false }) };
    pipeline = new StageThreads({
      ...pipelineOptions,
      setup: { config: resyncConfig, log: { level: deps.logger.level, stderr: true }, resync: { spec, tenant: options.tenant, types: options.types, everything } },
      local: () => new ResyncPipeline(pipelineOptions, { spec, inScope, everything }),
    });
    report('prepare', `${stored ? 'resuming' : 'starting'} ${state.id}: ${stages.join(' → ')} in groups ${groupPrefix}* on ${groups.length} thread${groups.length === 1 ? '' : 's'}, into "${target}"`);
    await pipeline.start(groups);

    const pass = async (stage: StageName, passPhase: ResyncPhase): Promise<number> => {
      phase = passPhase;
      const groupId = `${groupPrefix}${STAGES[stage].group}`;
      const topics = STAGES[stage].inputs.map((t) => `${prefix}${t}`);
      const spans = await topicSpans(kafka, topics);
      const target: Offsets = new Map([...spans].map(([t, parts]) => [t, new Map([...parts].map(([p, s]) => [p, s.high]))]));
      // A group started at the end of a derived topic counts from there.
      const lows: Offsets = new Map([...spans].map(([t, parts]) => [t, new Map([...parts].map(([p, s]) => [p, Math.max(s.low, starts.get(t)?.get(p) ?? 0)]))]));
      const meter = new RateMeter();
      for (;;) {
        signal.throwIfAborted();
        if (lock.lost) throw new Error(`the resync lock ${lock.key} was lost (Redis expired or another process took it)`);
        checkHealth(pipeline!, groupId);
        const now = passProgress(target, await committedOffsets(kafka, groupId, topics), lows);
        const rate = meter.sample(Date.now(), now.done);
        progress.update({ phase: passPhase, stage, done: now.done, total: now.total, rate, etaSeconds: etaSeconds(now.done, now.total, rate) });
        if (now.passed) return now.total;
        await sleep(pollMs, signal);
      }
    };

    let replayed = 0;
    for (const stage of stages) replayed = await pass(stage, 'replay');

    let switched: ResyncResult['switched'];
    if (options.into !== undefined) {
      signal.throwIfAborted();
      phase = 'switch';
      // Not interrupted: the aliases change in one request (Qdrant) or one rename (LanceDB). LanceDB
      // stores of other processes hold their writes until the catch-up is done (one writer per table).
      const result = await aliases.switch(name, options.into, { holdWritesMs: HOLD_WRITES_MS });
      switchDone = true;
      switched = { alias: name, previous: result.previous, now: options.into, adopted: result.adopted };
      report('switch', `"${name}" now stands for "${options.into}" (before: "${result.previous}"${result.adopted ? ', a collection of that name was replaced by the alias' : ''})`);
      // Live store workers follow within the alias TTL (LanceDB); whatever they wrote to the old
      // collection until then is in the store's inputs below the end offsets taken after it.
      await sleep(aliases.kind === 'lancedb' ? 2 * DEFAULT_ALIAS_TTL_MS + 1000 : 1000, signal);
      await pass('store', 'catch-up');
    }
    await pipeline.stop();
    pipeline = undefined;
    if (switched) await aliases.releaseWrites(name);

    signal.throwIfAborted();
    phase = 'sweep';
    const store = createVectorStore({ ...config.store, collection: target });
    await store.connect();
    sweepStore = store;
    const sources = sourceTopics(options.from).map((t) => `${prefix}${t}`);
    const sourceSpans = await topicSpans(kafka, sources);
    const sourceTotal = [...sourceSpans.values()].reduce((sum, parts) => sum + [...parts.values()].reduce((s, p) => s + p.high - p.low, 0), 0);
    const sweepMeter = new RateMeter();
    const swept = await sweep({
      kafka,
      store,
      topics: sources,
      inScope,
      groupPrefix,
      signal,
      onProgress: (read) => {
        const rate = sweepMeter.sample(Date.now(), read);
        progress.update({ phase: 'sweep', done: read, total: Math.max(read, sourceTotal), rate, etaSeconds: etaSeconds(read, sourceTotal, rate) });
      },
    });
    report('sweep', `${swept.marked} keys in the sources, ${swept.live} live documents in scope, ${swept.swept.length} swept`);

    phase = 'cleanup';
    const purgedMarkers = await purgeMarkers(kafka, config, store, sources);
    // Every finished or abandoned resync's groups, this one's included (the lock says none runs).
    const groupsDeleted = await deleteGroups(kafka, await groupsWithPrefix(kafka, `${basePrefix(config)}resync-`));
    await redis.del(keys(config).state);
    report('cleanup', `${groupsDeleted.length} resync consumer groups deleted, ${purgedMarkers} delete markers purged`);
    phase = 'done';
    return { id: state.id, from: options.from, collection: name, target, ...(switched ? { switched } : {}), replayed, swept: swept.swept, purgedMarkers, groupsDeleted };
  } catch (error) {
    if (signal.aborted || phase !== 'prepare') {
      const state = await readState(redis, config).catch(() => undefined);
      const why = signal.aborted ? 'stopped' : `failed in phase ${phase}: ${(error as Error).message}`;
      const how =
        state === undefined
          ? ''
          : ` Its consumer groups (${resyncGroupPrefix(basePrefix(config), state.id)}*) keep their offsets: run the same command again to resume it, ` +
            'or `ragsync resync --abandon` to delete them' +
            (options.into === undefined
              ? ''
              : switchDone
                ? ` ("${name}" already stands for "${options.into}"; a resume finishes the catch-up and the sweep)`
                : ` (the collection "${options.into}" stays; "${name}" does not stand for it yet)`) +
            '.';
      throw new ResyncStoppedError(`resync ${why}.${how}`, { cause: error });
    }
    throw error;
  } finally {
    await pipeline?.stop().catch(() => undefined);
    await sweepStore?.close().catch(() => undefined);
    // A hold left by a failure ends by itself (HOLD_WRITES_MS); lifting it now lets live writes go on at once.
    if (switchDone) await aliases.releaseWrites(name).catch(() => undefined);
    await lock.release().catch(() => undefined);
    redis.disconnect();
    await aliases.close();
  }
}

/**
 * Sets the group's offset on every partition of `topics` it has not committed on to the offset
 * `starts` gives (a resumed resync's groups keep what they committed). The group has no members:
 * the resync holds its lock and has not started its stages yet.
 */
async function startGroupAt(kafka: KafkaClient, groupId: string, topics: readonly string[], starts: Offsets): Promise<void> {
  const committed = await committedOffsets(kafka, groupId, topics);
  await withAdmin(kafka, async (admin) => {
    for (const topic of topics) {
      const partitions = [...(starts.get(topic) ?? new Map<number, number>())]
        .filter(([partition, offset]) => offset > 0 && (committed.get(topic)?.get(partition) ?? -1) < 0)
        .map(([partition, offset]) => ({ partition, offset: String(offset) }));
      if (partitions.length > 0) await admin.setOffsets({ groupId, topic, partitions });
    }
  });
}

function offsetsRecord(offsets: Offsets): Record<string, Record<string, number>> {
  return Object.fromEntries([...offsets].map(([topic, parts]) => [topic, Object.fromEntries(parts)]));
}

function recordOffsets(record: Record<string, Record<string, number>>): Offsets {
  return new Map(Object.entries(record).map(([topic, parts]) => [topic, new Map(Object.entries(parts).map(([p, o]) => [Number(p), o]))]));
}

/** A stage of the resync that crashed or stopped on a system error stops the resync: waiting would never end. */
function checkHealth(pipeline: StageThreads, groupId: string): void {
  for (const health of pipeline.stageHealth()) {
    if (health.state === 'crashed') throw new Error(`stage ${health.stage} (group ${health.group || 'not joined yet'}) crashed${health.lastError ? `: ${health.lastError.message}` : ''}`);
    if (health.group === groupId && health.state === 'paused' && health.lastError?.class === 'system') {
      throw new Error(`stage ${health.stage} (group ${health.group}) stopped on a system error: ${health.lastError.message}`);
    }
  }
}

/**
 * Delete markers older than the topics keep tombstones (and than the retry tiers hold records)
 * protect nothing any more: every record that could bring the document back is gone.
 */
async function purgeMarkers(kafka: KafkaClient, config: Config, store: VectorStore, sources: readonly string[]): Promise<number> {
  const retention = await deleteRetentionMs(kafka, [...sources, `${config.topics.prefix}vectors`], config.topics.deleteRetentionMs);
  const retryWindow = config.topics.retryDelaysMs.reduce((sum, ms) => sum + ms, 0);
  return store.purgeDeleteMarkers(Date.now() - markerAgeMs(retention, retryWindow));
}

/** How old a delete marker must be to go. Pure. */
export function markerAgeMs(deleteRetentionMs: number, retryWindowMs: number): number {
  return Math.max(deleteRetentionMs, retryWindowMs);
}

async function readState(redis: Redis, config: Config): Promise<StoredState | undefined> {
  const text = await redis.get(keys(config).state);
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as StoredState;
  } catch {
    return undefined;
  }
}

export function describeOptions(options: ResyncOptions): string {
  return [`--from ${options.from}`, ...(options.tenant ? [`--tenant ${options.tenant}`] : []), ...(options.types ? [`--types ${options.types.join(',')}`] : []), ...(options.into ? [`--into ${options.into}`] : [])].join(' ');
}

/** `--abandon`: deletes an unfinished resync's groups and state; its --into collection stays. */
export async function abandonResync(config: Config): Promise<{ id: string | undefined; groupsDeleted: string[]; into?: string }> {
  const kafka = createKafka(config);
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 2, connectTimeout: 5000 });
  redis.on('error', () => undefined);
  const lock = new ResyncLock(redis, keys(config).lock);
  try {
    await lock.acquire();
    const state = await readState(redis, config);
    const groups = await groupsWithPrefix(kafka, `${basePrefix(config)}resync-`);
    const groupsDeleted = await deleteGroups(kafka, groups);
    await redis.del(keys(config).state);
    return { id: state?.id, groupsDeleted, ...(state?.options.into ? { into: state.options.into } : {}) };
  } finally {
    await lock.release().catch(() => undefined);
    redis.disconnect();
  }
}

