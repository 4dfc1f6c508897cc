import type { Admin, Kafka } from 'kafkajs';
import { withAdmin } from './admin.js';
import type { LagSource } from '../observability/metrics.js';

export interface GroupLag {
  group: string;
  /** Sum over partitions of (end offset − committed offset); a partition never committed counts whole. */
  lag: number;
  topics: Array<{ topic: string; lag: number; end: number }>;
}

/**
 * Lag of consumer groups on their input topics, from committed offsets and end offsets. Used by
 * `status`, the demo (run until there is no lag) and the lag-based autoscaling docs.
 */
export function groupLag(kafka: Kafka, group: string, topics: string[]): Promise<GroupLag> {
  return withAdmin(kafka, (admin) => readGroupLag(admin, group, topics));
}

/** `groupLag` on an admin client the caller holds (several groups, one connection). */
export async function readGroupLag(admin: Admin, group: string, topics: string[]): Promise<GroupLag> {
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  const result: GroupLag = { group, lag: 0, topics: [] };
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const offsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
    let lag = 0;
    let end = 0;
    for (const partition of ends) {
      const high = Number(partition.high);
      const low = Number(partition.low);
      end += high;
      const done = Number(offsets.find((o) => o.partition === partition.partition)?.offset ?? -1);
      lag += Math.max(0, high - (done < 0 ? low : done));
    }
    result.topics.push({ topic, lag, end });
    result.lag += lag;
  }
  return result;
}

/** Reads the lag of each running stage's group: the source of the `ragsync_consumer_lag` gauge. */
export function stagesLagSource(kafka: Kafka, topicPrefix: string, runners: ReadonlyArray<{ groupId: string; stage: { name: string; inputs: readonly string[] } }>): LagSource {
  return () =>
    withAdmin(kafka, (admin) =>
      Promise.all(
        runners.map(async (r) => ({
          stage: r.stage.name,
          group: r.groupId,
          lag: (await readGroupLag(admin, r.groupId, r.stage.inputs.map((t) => `${topicPrefix}${t}`))).lag,
        })),
      ),
    );
}
