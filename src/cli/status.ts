import type { Redis } from 'ioredis';
import type { createKafka } from '../kafka/client.js';
import type { Config } from '../config/index.js';
import { enabledStages, retryGroupOf } from '../core/stages.js';
import { ASPECT_TYPES, ENTITY_TYPES } from '../core/entities.js';
import { describeError } from '../core/errors.js';
import { parseKey } from '../core/keys.js';
import type { StageDefinition } from '../core/stage.js';
import { DOC_TYPES } from '../consumers/map/doc-type.js';
import { withAdmin } from '../kafka/admin.js';
import { DlqMarks, type MarkIndex } from '../kafka/dlq-marks.js';
import { DlqReader } from '../kafka/dlq-reader.js';
import { readGroupLag } from '../kafka/lag.js';
import { partitionLags, producedSince, type PartitionLag } from '../kafka/partition-offsets.js';
import { probeKey, probeRecords, type ProbePosition } from '../kafka/record-probe.js';
import type { GroupRetryStatus } from '../kafka/retry-status.js';
import { retryTopicName } from '../kafka/topic-catalogue.js';
import { describeTopicConfigs } from '../kafka/topic-state.js';
import { readActivity } from '../observability/activity.js';
import type { VectorStore } from '../stores/index.js';
import type { CircuitSnapshot } from '../coordination/circuit-breaker.js';
import { statusVerdict } from './status-verdict.js';
import type { DlqReason, IndexCount, PipelineStatus } from './status-view.js';

export type { DlqReason, IndexCount, PartitionStatus, PipelineStatus, StageStatus } from './status-view.js';
export { formatStatus } from './status-format.js';

type Kafka = ReturnType<typeof createKafka>;

/** What `collectStatus` needs of a stage: a StageDefinition or its declaration. */
export type StatusStage = Pick<StageDefinition, 'name' | 'group' | 'inputs' | 'failureGroup'>;

/**
 * Every stage `run all` starts, by declaration: the core stages and the push stages whose target a
 * tenant configures, and for each terminal one its retry consumer reading the retry tiers.
 */
export function declaredStages(config: Pick<Config, 'topics'> & Partial<Pick<Config, 'tenants'>>): StatusStage[] {
  return enabledStages(config.tenants).flatMap((s): StatusStage[] => [
    { name: s.name, group: s.group, inputs: [...s.inputs] },
    ...(s.terminal
      ? [{ name: `${s.name}.retry`, group: retryGroupOf(s.group), inputs: config.topics.retryDelaysMs.map((d) => retryTopicName(s.group, d)), failureGroup: s.group }]
      : []),
  ]);
}

export interface CollectOptions {
  store?: VectorStore;
  /** Count DLQ records replayed with `dlq replay` out (reads the `dlq.marks` topic once). */
  dlqMarks?: boolean;
  /**
   * Everything an operator asks (`ragsync status` and the dashboard): lag per partition, rates,
   * the oldest unprocessed record's age against delete.retention.ms, DLQ reasons, last events,
   * and, with `redis`, what the replicas recorded (rates, freshness, cache hits).
   */
  detail?: { redis?: Redis; circuits?: CircuitSnapshot[]; retries?: GroupRetryStatus[]; now?: number; probeTimeoutMs?: number };
}

/** Lag per group and DLQ depth per stage; point and document counts when a store is given; the rest with `detail`. */
export async function collectStatus(kafka: Kafka, config: Config, stages: StatusStage[], options: CollectOptions = {}): Promise<PipelineStatus> {
  const prefix = config.topics.prefix;
  const groupPrefix = config.runner.groupPrefix ?? prefix;
  const marks: MarkIndex | undefined = options.dlqMarks ? await new DlqMarks(kafka, { topicPrefix: prefix, groupPrefix }).load() : undefined;
  const result: PipelineStatus = { stages: [] };
  // One admin client for every group and DLQ, asked in parallel: a client of its own per stage
  // spent most of its time connecting (about 0.3 s each, seconds for a full pipeline).
  const existing = new Set<string>();
  const rows = await withAdmin(kafka, async (admin) => {
    for (const topic of await admin.listTopics()) existing.add(topic);
    return Promise.all(
      stages.map(async (stage) => {
        const group = `${groupPrefix}${stage.group}`;
        const lag = await readGroupLag(admin, group, stage.inputs.filter((t) => existing.has(`${prefix}${t}`)).map((t) => `${prefix}${t}`));
        const dlqTopic = `${prefix}${stage.group}.dlq`;
        let dlq: number | undefined;
        if (stage.failureGroup === undefined && existing.has(dlqTopic)) {
          const ranges = await admin.fetchTopicOffsets(dlqTopic);
          const held = ranges.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
          dlq = held - (marks?.replayedWithin(stage.group, ranges.map((r) => ({ partition: r.partition, low: r.low, high: r.high }))) ?? 0);
        }
        return { stage: stage.name, group, lag: lag.lag, dlq };
      }),
    );
  });
  for (const stage of stages) {
    // A missing input is said, not fatal: the rest of the pipeline is still worth showing.
    const missing = stage.inputs.filter((t) => !existing.has(`${prefix}${t}`));
    if (missing.length > 0) result.missingTopics = [...new Set([...(result.missingTopics ?? []), ...missing])];
  }
  result.stages.push(...rows);
  if (options.store) {
    try {
      result.points = await options.store.countPoints();
      const keys = await options.store.listDocKeys();
      result.documents = keys.length;
      if (options.detail) {
        result.documentsByType = documentsByType(keys);
        result.pointsByType = await pointsByType(options.store, [...new Set(result.documentsByType.map((d) => d.tenant))]);
      }
    } catch (error) {
      // Kafka's side is still worth showing when the store is not there (yet).
      result.storeProblem = describeError(error);
    }
  }
  if (options.detail) await addDetail(kafka, config, stages, result, existing, marks, options.detail);
  return result;
}

async function addDetail(kafka: Kafka, config: Config, stages: StatusStage[], result: PipelineStatus, existing: Set<string>, marks: MarkIndex | undefined, detail: NonNullable<CollectOptions['detail']>): Promise<void> {
  const prefix = config.topics.prefix;
  const groupPrefix = config.runner.groupPrefix ?? prefix;
  const now = detail.now ?? Date.now();
  const problems: string[] = [];
  const logical = (topic: string) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  const inputTopics = [...new Set(stages.flatMap((s) => s.inputs.map((t) => `${prefix}${t}`)))].filter((t) => existing.has(t));
  const changeTopics = [...ENTITY_TYPES, ...ASPECT_TYPES].map((type) => `${prefix}changes.${type}`).filter((t) => existing.has(t));
  const { lags, produced, configs, changeEnds } = await withAdmin(kafka, async (admin) => {
    // Every question to the broker at once: one admin client, requests in parallel.
    const [lagList, producedList, configs, endList] = await Promise.all([
      Promise.all(stages.map(async (stage) => [stage.name, await partitionLags(admin, `${groupPrefix}${stage.group}`, stage.inputs.map((t) => `${prefix}${t}`).filter((t) => existing.has(t)))] as const)),
      Promise.all(inputTopics.map(async (topic) => [topic, await producedSince(admin, topic, now - 60_000)] as const)),
      describeTopicConfigs(admin, inputTopics),
      Promise.all(changeTopics.map(async (t) => [t, await admin.fetchTopicOffsets(t)] as const)),
    ]);
    return { lags: new Map<string, PartitionLag[]>(lagList), produced: new Map<string, number>(producedList), configs, changeEnds: new Map(endList) };
  });
  // One read for every record whose time matters: the head of each lagging partition, the newest of each change topic.
  const positions: ProbePosition[] = [];
  for (const list of lags.values()) for (const p of list) if (p.lag > 0) positions.push({ topic: p.topic, partition: p.partition, offset: Math.max(p.committed ?? p.low, p.low) });
  for (const [topic, ends] of changeEnds) for (const p of ends) if (Number(p.high) > Number(p.low)) positions.push({ topic, partition: p.partition, offset: Number(p.high) - 1 });
  let probed = new Map<string, { offset: number; timestamp: number }>();
  try {
    probed = await probeRecords(kafka, positions, { groupPrefix, timeoutMs: detail.probeTimeoutMs ?? 10_000 });
  } catch (error) {
    problems.push(`record times not read: ${describeError(error)}`);
  }
  const missing = positions.filter((p) => !probed.has(probeKey(p.topic, p.partition, p.offset))).length;
  if (missing > 0 && positions.length > 0) problems.push(`record times: ${missing} of ${positions.length} partitions did not answer in time`);

  let activity: Awaited<ReturnType<typeof readActivity>> | undefined;
  if (detail.redis) {
    try {
      activity = await readActivity(detail.redis, config.redis.keyPrefix, { now });
    } catch (error) {
      problems.push(`activity not read from Redis: ${describeError(error)}`);
    }
  }

  for (const [i, stage] of stages.entries()) {
    const row = result.stages[i]!;
    const list = lags.get(stage.name) ?? [];
    row.partitions = list.map((p) => {
      const found = p.lag > 0 ? probed.get(probeKey(p.topic, p.partition, Math.max(p.committed ?? p.low, p.low))) : undefined;
      return { ...p, topic: logical(p.topic), ...(found ? { oldestUnprocessedAt: new Date(found.timestamp).toISOString() } : {}) };
    });
    const oldest = Math.min(...row.partitions.filter((p) => p.oldestUnprocessedAt).map((p) => Date.parse(p.oldestUnprocessedAt!)));
    row.oldestUnprocessedMs = Number.isFinite(oldest) ? Math.max(0, now - oldest) : null;
    row.inPerSecond = stage.inputs.reduce((sum, t) => sum + (produced.get(`${prefix}${t}`) ?? 0), 0) / 60;
    row.donePerSecond = activity ? (activity.ratePerSecond[stage.name] ?? 0) : null;
    const retentions = stage.inputs
      .map((t) => configs.get(`${prefix}${t}`))
      .filter((c) => c?.get('cleanup.policy')?.includes('compact'))
      .map((c) => Number(c!.get('delete.retention.ms')))
      .filter((n) => Number.isFinite(n));
    row.deleteRetentionMs = retentions.length > 0 ? Math.min(...retentions) : null;
  }

  result.lastEvents = [...ENTITY_TYPES, ...ASPECT_TYPES].map((entityType) => {
    const topic = `${prefix}changes.${entityType}`;
    const times = (changeEnds.get(topic) ?? []).map((p) => probed.get(probeKey(topic, p.partition, Number(p.high) - 1))?.timestamp).filter((t): t is number => t !== undefined);
    return { entityType, topic: logical(topic), at: times.length > 0 ? new Date(Math.max(...times)).toISOString() : null };
  });

  result.dlqByReason = await dlqReasons(kafka, config, stages, result, marks);
  if (activity) {
    result.freshness = activity.latency;
    result.embeddingCache = activity.cache;
    result.series = activity.series;
  }
  if (detail.circuits) result.circuits = detail.circuits;
  if (detail.retries) result.retries = detail.retries;
  result.at = new Date(now).toISOString();
  result.problems = problems;
  result.verdict = statusVerdict(result);
}

/** Dead letters still to handle by error code, read only for the groups whose DLQ holds some. */
async function dlqReasons(kafka: Kafka, config: Config, stages: StatusStage[], result: PipelineStatus, marks: MarkIndex | undefined): Promise<DlqReason[]> {
  const groups = stages.filter((s, i) => (result.stages[i]!.dlq ?? 0) > 0).map((s) => s.group);
  if (groups.length === 0) return [];
  const reader = new DlqReader(kafka, { topicPrefix: config.topics.prefix, groupPrefix: config.runner.groupPrefix ?? config.topics.prefix, groups });
  const reasons: DlqReason[] = [];
  for (const group of groups) {
    const summary = await reader.summarize(group, { stateOf: (record) => (marks?.replayed(record) ? 'replayed' : 'pending'), sampleSize: 0 });
    for (const c of summary.byCode) reasons.push({ group, code: c.code, errorClass: c.errorClass, count: c.count, lastMessage: c.lastMessage });
  }
  return reasons;
}

function documentsByType(keys: readonly string[]): IndexCount[] {
  const counts = new Map<string, IndexCount>();
  for (const key of keys) {
    let tenant = '?';
    let entityType = '?';
    try {
      ({ tenant, entityType } = parseKey(key));
    } catch {
      // A key of another shape is still a document: counted under `?`.
    }
    const id = `${tenant}/${entityType}`;
    const entry = counts.get(id) ?? { tenant, entityType, documents: 0 };
    entry.documents++;
    counts.set(id, entry);
  }
  return [...counts.values()].sort((a, b) => a.tenant.localeCompare(b.tenant) || a.entityType.localeCompare(b.entityType));
}

async function pointsByType(store: VectorStore, tenants: readonly string[]): Promise<Array<{ tenant: string; docType: string; points: number }>> {
  const rows: Array<{ tenant: string; docType: string; points: number }> = [];
  for (const tenant of tenants) {
    for (const docType of DOC_TYPES) {
      const points = await store.countPoints({ tenant, docType });
      if (points > 0) rows.push({ tenant, docType, points });
    }
  }
  return rows;
}
