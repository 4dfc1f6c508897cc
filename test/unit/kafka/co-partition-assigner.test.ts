import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { coPartitionAssigner, PartitionNumberLocks } from '../../../src/kafka/co-partition-assigner.js';

const { AssignerProtocol } = kafkajs;

function assignerFor(partitions: Record<string, number>) {
  const cluster = { findTopicPartitionMetadata: (topic: string) => Array.from({ length: partitions[topic] ?? 0 }, (_, partitionId) => ({ partitionId })) };
  return coPartitionAssigner({ cluster } as never);
}

async function assign(partitions: Record<string, number>, memberIds: string[]) {
  const result = await assignerFor(partitions).assign({ members: memberIds.map((memberId) => ({ memberId })) as never, topics: Object.keys(partitions) });
  return Object.fromEntries(result.map((r) => [r.memberId, AssignerProtocol.MemberAssignment.decode(r.memberAssignment)!.assignment]));
}

describe('the co-partitioning assigner', () => {
  it('gives one member partition n of every input, and spreads the numbers over the members', async () => {
    const inputs = { vectors: 6, 'changes.product_price': 6, 'changes.product_stock': 6 };
    const assignment = await assign(inputs, ['member-b', 'member-a', 'member-c']);
    expect(assignment['member-a']).toEqual({ vectors: [0, 3], 'changes.product_price': [0, 3], 'changes.product_stock': [0, 3] });
    expect(assignment['member-b']).toEqual({ vectors: [1, 4], 'changes.product_price': [1, 4], 'changes.product_stock': [1, 4] });
    expect(assignment['member-c']).toEqual({ vectors: [2, 5], 'changes.product_price': [2, 5], 'changes.product_stock': [2, 5] });
  });

  it('assigns every partition exactly once, also when topics differ in size and members outnumber partitions', async () => {
    const inputs = { a: 3, b: 2 };
    const assignment = await assign(inputs, ['m1', 'm2', 'm3', 'm4']);
    const owned = Object.values(assignment).flatMap((topics) => Object.entries(topics).flatMap(([topic, ps]) => ps.map((p) => `${topic}/${p}`)));
    expect(owned.sort()).toEqual(['a/0', 'a/1', 'a/2', 'b/0', 'b/1']);
    expect(assignment.m4).toEqual({});
  });
});

describe('the partition-number locks', () => {
  it('never runs two tasks of one partition number at once, and runs other numbers in parallel', async () => {
    const locks = new PartitionNumberLocks();
    const running = new Map<number, number>();
    let overlap = false;
    let parallel = false;
    const task = (partition: number) =>
      locks.run(partition, async () => {
        running.set(partition, (running.get(partition) ?? 0) + 1);
        if (running.get(partition)! > 1) overlap = true;
        if ([...running.values()].filter((n) => n > 0).length > 1) parallel = true;
        await new Promise((resolve) => setTimeout(resolve, 5));
        running.set(partition, running.get(partition)! - 1);
      });
    await Promise.all([0, 1, 0, 1, 0, 2, 2, 0].map(task));
    expect(overlap).toBe(false);
    expect(parallel).toBe(true);
  });
});
