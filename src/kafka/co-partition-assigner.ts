import kafkajs, { type PartitionAssigner } from 'kafkajs';

// kafkajs is CommonJS and these exports are not visible to Node's ESM named-import detection.
const { AssignerProtocol } = kafkajs;

export const CO_PARTITION_ASSIGNER = 'RagsyncCoPartitioned';

/**
 * Assigns partitions by number: the member that owns partition n of one input owns partition n of
 * every input (docs/design.md §8, one writer per document). The store reads `vectors`,
 * `changes.product_price` and `changes.product_stock`, which are keyed alike, partitioned alike and
 * have equal partition counts, so every record of one document lands on partitions with one number
 * and therefore on one member, where the runner serialises them.
 *
 * Partition numbers go round-robin over the members sorted by id, so a rebalance moves as few as
 * round-robin does. A topic with fewer partitions than another simply has no partition n for the
 * larger numbers; `topics apply` keeps the counts equal.
 */
export const coPartitionAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITION_ASSIGNER,
  version: 0,
  async assign({ members, topics }) {
    const memberIds = members.map((m) => m.memberId).sort();
    const byMember = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
    const numbers = new Set<number>();
    const partitionsOf = new Map<string, Set<number>>();
    for (const topic of topics) {
      const ids = new Set(cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId));
      partitionsOf.set(topic, ids);
      for (const id of ids) numbers.add(id);
    }
    const ordered = [...numbers].sort((a, b) => a - b);
    ordered.forEach((partition, index) => {
      const assignment = byMember.get(memberIds[index % memberIds.length]!)!;
      for (const topic of topics) {
        if (!partitionsOf.get(topic)?.has(partition)) continue;
        (assignment[topic] ??= []).push(partition);
      }
    });
    return memberIds.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: byMember.get(memberId)!, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITION_ASSIGNER, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});

/**
 * Runs tasks one at a time per partition number: a batch of `vectors` partition 3 and one of
 * `changes.product_price` partition 3 never run together, while other numbers go on in parallel.
 */
export class PartitionNumberLocks {
  private readonly tails = new Map<number, Promise<void>>();

  async run<T>(partition: number, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(partition) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(partition, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.tails.get(partition) === tail) this.tails.delete(partition);
    }
  }
}
