import type { createKafka } from '../kafka/client.js';
import type { Config } from '../config/index.js';
import { enabledStages, retryGroupOf } from '../core/stages.js';
import { describeError } from '../core/errors.js';
import type { StageDefinition } from '../core/stage.js';
import { withAdmin } from '../kafka/admin.js';
import { DlqMarks, type MarkIndex } from '../kafka/dlq-marks.js';
import { groupLag } from '../kafka/lag.js';
import { retryTopicName } from '../kafka/topic-catalogue.js';
import type { VectorStore } from '../stores/index.js';
import type { CircuitSnapshot } from '../coordination/circuit-breaker.js';

export interface StageStatus {
  stage: string;
  group: string;
  lag: number;
  /**
   * Dead-lettered records still to handle: held by `<group>.dlq` and not replayed (with
   * `dlqMarks`), or held at all (without). Undefined when the topic does not exist, or for a retry
   * consumer, whose dead records are its stage's.
   */
  dlq: number | undefined;
}

export interface PipelineStatus {
  stages: StageStatus[];
  points?: number;
  documents?: number;
  /** Why the store could not be counted. */
  storeProblem?: string;
  /** Circuit states of the sinks' targets, when asked for. */
  circuits?: CircuitSnapshot[];
}

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
}

/** Lag per group and DLQ depth per stage; point and document counts when a store is given. */
export async function collectStatus(kafka: Kafka, config: Config, stages: StatusStage[], options: CollectOptions = {}): Promise<PipelineStatus> {
  const prefix = config.topics.prefix;
  const groupPrefix = config.runner.groupPrefix ?? prefix;
  const marks: MarkIndex | undefined = options.dlqMarks ? await new DlqMarks(kafka, { topicPrefix: prefix, groupPrefix }).load() : undefined;
  const result: PipelineStatus = { stages: [] };
  const existing = new Set(await withAdmin(kafka, (admin) => admin.listTopics()));
  for (const stage of stages) {
    const group = `${groupPrefix}${stage.group}`;
    const lag = await groupLag(kafka, group, stage.inputs.map((t) => `${prefix}${t}`));
    const dlqTopic = `${prefix}${stage.group}.dlq`;
    let dlq: number | undefined;
    if (stage.failureGroup === undefined && existing.has(dlqTopic)) {
      const ranges = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(dlqTopic));
      const held = ranges.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      dlq = held - (marks?.replayedWithin(stage.group, ranges.map((r) => ({ partition: r.partition, low: r.low, high: r.high }))) ?? 0);
    }
    result.stages.push({ stage: stage.name, group, lag: lag.lag, dlq });
  }
  if (options.store) {
    try {
      result.points = await options.store.countPoints();
      result.documents = (await options.store.listDocKeys()).length;
    } catch (error) {
      // Kafka's side is still worth showing when the store is not there (yet).
      result.storeProblem = describeError(error);
    }
  }
  return result;
}

export function formatStatus(status: PipelineStatus): string {
  const width = Math.max(6, ...status.stages.map((s) => s.stage.length));
  const groupWidth = Math.max(18, ...status.stages.map((s) => s.group.length));
  const lines = status.stages.map((s) => `  ${s.stage.padEnd(width)} group ${s.group.padEnd(groupWidth)} lag ${String(s.lag).padStart(6)}   dlq ${s.dlq ?? '-'}`);
  if (status.points !== undefined) lines.push(`  ${'store'.padEnd(width)} ${status.documents} documents, ${status.points} points`);
  if (status.storeProblem !== undefined) lines.push(`  ${'store'.padEnd(width)} not counted: ${status.storeProblem}`);
  for (const c of status.circuits ?? []) {
    const detail = c.state === 'open' ? `, half-open in ${Math.ceil(c.waitMs / 1000)} s` : c.state === 'closed' && c.failures > 0 ? `, ${c.failures} failure(s) in a row` : '';
    lines.push(`  circuit ${c.target}: ${c.state}${detail}`);
  }
  return lines.join('\n');
}
