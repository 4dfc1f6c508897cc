import type { createKafka } from '../kafka/client.js';
import type { Config } from '../config/index.js';
import { groupLag } from '../kafka/lag.js';
import { topicDepth } from '../kafka/topic-depth.js';
import type { VectorStore } from '../stores/index.js';
import type { StageDefinition } from '../core/stage.js';

export interface StageStatus {
  stage: string;
  group: string;
  lag: number;
  dlq: number | undefined;
}

export interface PipelineStatus {
  stages: StageStatus[];
  points?: number;
  documents?: number;
}

/** Lag per group and DLQ depth per stage; point and document counts when a store is given. */
type Kafka = ReturnType<typeof createKafka>;

export async function collectStatus(kafka: Kafka, config: Config, stages: Pick<StageDefinition, 'name' | 'group' | 'inputs'>[], store?: VectorStore): Promise<PipelineStatus> {
  const prefix = config.topics.prefix;
  const result: PipelineStatus = { stages: [] };
  for (const stage of stages) {
    const group = `${config.runner.groupPrefix ?? prefix}${stage.group}`;
    const lag = await groupLag(kafka, group, stage.inputs.map((t) => `${prefix}${t}`));
    result.stages.push({ stage: stage.name, group, lag: lag.lag, dlq: await topicDepth(kafka, `${prefix}${stage.group}.dlq`) });
  }
  if (store) {
    result.points = await store.countPoints();
    result.documents = (await store.listDocKeys()).length;
  }
  return result;
}

export function formatStatus(status: PipelineStatus): string {
  const lines = status.stages.map((s) => `  ${s.stage.padEnd(6)} group ${s.group.padEnd(18)} lag ${String(s.lag).padStart(6)}   dlq ${s.dlq ?? '-'}`);
  if (status.points !== undefined) lines.push(`  store  ${status.documents} documents, ${status.points} points`);
  return lines.join('\n');
}
