import kafkajs, { type Admin } from 'kafkajs';
import type { Config } from '../config/index.js';
import { SystemError } from '../core/errors.js';
import { topicCatalogue, type CatalogueOptions, type TopicSpec } from './topic-catalogue.js';
import { describeTopicConfigs, partitionCounts } from './topic-state.js';

// kafkajs is CommonJS and this export is not visible to Node's ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

export interface ConfigChange {
  name: string;
  /** The topic's current value, undefined when the key is not set. */
  from: string | undefined;
  to: string;
}

/** What `applyTopics` does (or would do, with `dryRun`). */
export interface TopicPlan {
  create: TopicSpec[];
  alter: Array<{ topic: string; changes: ConfigChange[] }>;
  addPartitions: Array<{ topic: string; from: number; to: number }>;
  /** Changes that are never made, with the reason. */
  refused: Array<{ topic: string; reason: string }>;
  unchanged: string[];
}

/** Compares the wanted topics with the cluster. Reads only. */
export async function planTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<TopicPlan> {
  const existing = new Set(await admin.listTopics());
  const present = specs.filter((s) => existing.has(s.name));
  const [configs, partitions] = await Promise.all([
    describeTopicConfigs(
      admin,
      present.map((s) => s.name),
    ),
    partitionCounts(
      admin,
      present.map((s) => s.name),
    ),
  ]);
  const plan: TopicPlan = { create: [], alter: [], addPartitions: [], refused: [], unchanged: [] };
  for (const spec of specs) {
    if (!existing.has(spec.name)) {
      plan.create.push(spec);
      continue;
    }
    const current = configs.get(spec.name) ?? new Map<string, string>();
    const changes = Object.entries(spec.configs)
      .filter(([name, value]) => current.get(name) !== value)
      .map(([name, to]) => ({ name, from: current.get(name), to }));
    if (changes.length > 0) plan.alter.push({ topic: spec.name, changes });

    const count = partitions.get(spec.name) ?? spec.partitions;
    if (count !== spec.partitions) {
      if (spec.compacted || current.get('cleanup.policy')?.includes('compact')) {
        plan.refused.push({
          topic: spec.name,
          reason: `has ${count} partitions, config asks for ${spec.partitions}: the partition count of a compacted topic never changes (keys would move and their history split)`,
        });
      } else if (count > spec.partitions) {
        plan.refused.push({ topic: spec.name, reason: `has ${count} partitions, config asks for ${spec.partitions}: Kafka cannot remove partitions` });
      } else {
        plan.addPartitions.push({ topic: spec.name, from: count, to: spec.partitions });
      }
    }
    if (changes.length === 0 && count === spec.partitions) plan.unchanged.push(spec.name);
  }
  return plan;
}

export interface ApplyOptions extends CatalogueOptions {
  /** Only compute the plan. */
  dryRun?: boolean;
  /**
   * How long to wait for the brokers to show the applied changes.
   * @defaultValue 30000
   */
  settleTimeoutMs?: number;
}

/**
 * Creates the missing topics of the catalogue and aligns the configs ragsync sets on existing ones;
 * idempotent. Never changes the partition count of a compacted topic: such a difference is
 * reported in `refused` (the caller decides how to fail). Returns the plan it carried out.
 *
 * Config changes go through the AlterConfigs API, which replaces the topic's dynamic configs with
 * the given set: ragsync owns the configs of its topics.
 */
export async function applyTopics(admin: Admin, config: Pick<Config, 'topics'> & Partial<Pick<Config, 'tenants'>>, options: ApplyOptions = {}): Promise<TopicPlan> {
  const specs = topicCatalogue(config, options);
  const plan = await planTopics(admin, specs);
  if (options.dryRun) return plan;
  if (plan.create.length > 0) {
    // Not `waitForLeaders`: kafkajs fails that wait when the broker has not registered the topic yet
    // (UNKNOWN_TOPIC_OR_PARTITION); settle() below waits for leaders instead.
    await admin.createTopics({
      waitForLeaders: false,
      topics: plan.create.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  if (plan.alter.length > 0) {
    const wanted = new Map(specs.map((s) => [s.name, s]));
    await admin.alterConfigs({
      validateOnly: false,
      resources: plan.alter.map(({ topic }) => ({
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: Object.entries(wanted.get(topic)!.configs).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  if (plan.addPartitions.length > 0) {
    await admin.createPartitions({ topicPartitions: plan.addPartitions.map((p) => ({ topic: p.topic, count: p.to })) });
  }
  if (plan.create.length + plan.alter.length + plan.addPartitions.length > 0) await settle(admin, specs, options.settleTimeoutMs ?? 30_000);
  return plan;
}

/**
 * Waits until the cluster shows what was applied. Brokers apply new topics and config changes
 * from the metadata log a moment after the admin call returns; a worker started right after
 * `topics apply` (or a second apply) must see the result, not the old state.
 */
async function settle(admin: Admin, specs: readonly TopicSpec[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not checked yet';
  while (Date.now() < deadline) {
    try {
      const plan = await planTopics(admin, specs);
      const pending = [...plan.create.map((s) => s.name), ...plan.alter.map((a) => a.topic), ...plan.addPartitions.map((p) => p.topic)];
      if (pending.length === 0) {
        const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
        const leaderless = topics.filter((t) => t.partitions.some((p) => p.leader < 0)).map((t) => t.name);
        if (leaderless.length === 0) return;
        last = `no leader yet for ${leaderless.slice(0, 5).join(', ')}`;
      } else {
        last = `still pending: ${pending.slice(0, 5).join(', ')}`;
      }
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new SystemError(`topics did not reach their configured state within ${timeoutMs} ms (${last})`, { code: 'topics_not_settled' });
}

/** The plan as lines for people. */
export function formatPlan(plan: TopicPlan, dryRun = false): string[] {
  const verb = (done: string, todo: string) => (dryRun ? todo : done);
  const lines: string[] = [];
  for (const s of plan.create) {
    lines.push(`${verb('created', 'create')}  ${s.name}  partitions=${s.partitions} rf=${s.replicationFactor} ${Object.entries(s.configs).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  for (const a of plan.alter) {
    lines.push(`${verb('altered', 'alter')}  ${a.topic}  ${a.changes.map((c) => `${c.name}: ${c.from ?? '(unset)'} -> ${c.to}`).join(', ')}`);
  }
  for (const p of plan.addPartitions) lines.push(`${verb('grew', 'grow')}  ${p.topic}  partitions ${p.from} -> ${p.to}`);
  for (const r of plan.refused) lines.push(`refused  ${r.topic}  ${r.reason}`);
  lines.push(`${plan.unchanged.length} topic(s) already as configured`);
  return lines;
}

/**
 * For workers at start: every given topic exists with the cleanup policy the catalogue expects.
 * A missing or misconfigured topic is a SystemError naming it (run `ragsync topics apply`).
 */
export async function verifyTopics(
  admin: Admin,
  config: Pick<Config, 'topics'> & Partial<Pick<Config, 'tenants'>>,
  logicalNames: readonly string[],
  options: CatalogueOptions = {},
): Promise<void> {
  const catalogue = new Map(topicCatalogue(config, options).map((s) => [s.logical, s]));
  const specs = logicalNames.map((logical) => {
    const spec = catalogue.get(logical);
    if (!spec) throw new SystemError(`topic "${logical}" is not a ragsync topic`, { code: 'topic_unknown' });
    return spec;
  });
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name)).map((s) => s.name);
  if (missing.length > 0) {
    throw new SystemError(`missing topic(s) ${missing.join(', ')}: run \`ragsync topics apply\``, { code: 'topic_missing' });
  }
  const configs = await describeTopicConfigs(
    admin,
    specs.map((s) => s.name),
  );
  for (const spec of specs) {
    const actual = configs.get(spec.name)?.get('cleanup.policy');
    const expected = spec.configs['cleanup.policy'];
    if (actual !== expected) {
      throw new SystemError(`topic ${spec.name} has cleanup.policy=${actual ?? '(unset)'}, expected ${expected}: run \`ragsync topics apply\``, {
        code: 'topic_misconfigured',
      });
    }
  }
}
