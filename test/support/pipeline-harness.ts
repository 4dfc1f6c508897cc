import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { ChangeMessage } from '../../src/core/changes.js';
import { Pipeline, STAGE_NAMES, type StageName } from '../../src/cli/pipeline.js';
import { enabledStages } from '../../src/core/stages.js';
import { collectStatus } from '../../src/cli/status.js';
import { createKafka } from '../../src/kafka/client.js';
import { KafkaChangeSink } from '../../src/kafka/producer.js';
import { withAdmin } from '../../src/kafka/admin.js';
import { applyTopics } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { runPublish } from '../../src/producers/publish/run-publish.js';
import { createVectorStore, type VectorStore } from '../../src/stores/index.js';
import { startQdrantServer, type QdrantTestServer } from './qdrant-server/server.js';
import { uniqueName } from './unique.js';

export type StoreKind = 'lancedb' | 'qdrant';

export interface HarnessOverrides {
  chunking?: Partial<Config['chunking']>;
}

/**
 * One isolated pipeline on the real stack: its own topic prefix (so its own topics and groups),
 * Redis prefix, LanceDB folder or Qdrant test server, all removed by `close()`.
 */
export class PipelineHarness {
  config: Config;
  readonly kafka: ReturnType<typeof createKafka>;
  pipeline: Pipeline | undefined;
  /** The metrics of the pipeline last started. */
  metrics: Metrics | undefined;
  private readonly sink: KafkaChangeSink;
  private readonly dir: string;
  private readonly stores: VectorStore[] = [];

  private constructor(
    readonly storeKind: StoreKind,
    readonly qdrant: QdrantTestServer | undefined,
    env: Record<string, string>,
    overrides: HarnessOverrides,
  ) {
    const prefix = `${uniqueName('pipe')}.`;
    this.dir = mkdtempSync(join(tmpdir(), 'ragsync-pipe-'));
    this.config = loadConfig({
      env: {
        ...process.env,
        RAGSYNC_TOPIC_PREFIX: prefix,
        RAGSYNC_REDIS_PREFIX: `${prefix}`,
        LANCEDB_PATH: join(this.dir, 'lancedb'),
        RAGSYNC_COLLECTION: prefix.replace(/[^a-z0-9]/gi, '_').slice(0, 40),
        RAGSYNC_PARTITIONS: '2',
        EMBEDDER: 'hashing',
        LOG_LEVEL: 'silent',
        ...(qdrant ? { QDRANT_URL: qdrant.url } : { QDRANT_URL: '' }),
        ...env,
      },
    });
    this.config = { ...this.config, chunking: { ...this.config.chunking, ...overrides.chunking } };
    this.kafka = createKafka(this.config);
    this.sink = new KafkaChangeSink(this.kafka, this.config);
  }

  static async create(storeKind: StoreKind, env: Record<string, string> = {}, overrides: HarnessOverrides = {}): Promise<PipelineHarness> {
    const qdrant = storeKind === 'qdrant' ? await startQdrantServer() : undefined;
    const harness = new PipelineHarness(storeKind, qdrant, env, overrides);
    await withAdmin(harness.kafka, (admin) => applyTopics(admin, harness.config));
    return harness;
  }

  /**
   * Starts the stages `run all` would start, or the named ones, in this process (a new Pipeline
   * each time, as a restarted worker).
   */
  async start(overrides: Partial<Config['runner']> = {}, stages: readonly StageName[] = enabledStages(this.config.tenants).map((s) => s.name)): Promise<Pipeline> {
    const config = { ...this.config, runner: { ...this.config.runner, ...overrides } };
    this.metrics = createMetrics({ defaultMetrics: false });
    this.pipeline = new Pipeline({ config, logger: createLogger({ level: 'silent' }), metrics: this.metrics });
    await this.pipeline.start(stages);
    return this.pipeline;
  }

  async stop(): Promise<void> {
    await this.pipeline?.stop();
    this.pipeline = undefined;
  }

  async publish(messages: ChangeMessage[]): Promise<void> {
    await this.sink.publish(messages);
  }

  async publishLines(lines: string[]): Promise<void> {
    async function* iterate() {
      yield* lines;
    }
    const summary = await runPublish(iterate(), { sink: this.sink, now: Date.now(), storesOf: () => [0] });
    if (summary.rejected > 0) throw new Error(`rejected lines: ${JSON.stringify(summary.rejections.slice(0, 3))}`);
  }

  /** Waits until no group of the pipeline has lag, twice in a row. */
  async settle(timeoutMs = 120_000, groupPrefix?: string): Promise<void> {
    const stages = (this.pipeline?.runners ?? []).map((r) => r.stage);
    const config = groupPrefix ? { ...this.config, runner: { ...this.config.runner, groupPrefix } } : this.config;
    const deadline = Date.now() + timeoutMs;
    let quiet = 0;
    let last = '';
    while (Date.now() < deadline) {
      const status = await collectStatus(this.kafka, config, stages);
      last = status.stages.map((s) => `${s.stage}=${s.lag}`).join(' ');
      quiet = status.stages.every((s) => s.lag === 0) ? quiet + 1 : 0;
      if (quiet >= 2) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`pipeline did not settle: ${last}`);
  }

  /** Records held by each non-empty DLQ topic of this pipeline, by logical name (empty: none). */
  async dlqDepth(): Promise<Record<string, number>> {
    const prefix = this.config.topics.prefix;
    return withAdmin(this.kafka, async (admin) => {
      const depth: Record<string, number> = {};
      for (const topic of (await admin.listTopics()).filter((t) => t.startsWith(prefix) && t.endsWith('.dlq'))) {
        const held = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
        if (held > 0) depth[topic.slice(prefix.length)] = held;
      }
      return depth;
    });
  }

  /** A store client of its own (as `search` would open), connected. */
  async openStore(overrides: Partial<Config['store']> = {}): Promise<VectorStore> {
    const store = createVectorStore({ ...this.config.store, ...overrides });
    await store.connect();
    this.stores.push(store);
    return store;
  }

  async deleteRedisKeys(): Promise<void> {
    const redis = new Redis(this.config.redis.url);
    try {
      const keys = await redis.keys(`${this.config.redis.keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    await this.sink.close().catch(() => undefined);
    for (const store of this.stores) await store.close().catch(() => undefined);
    const admin = this.kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(this.config.topics.prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await this.deleteRedisKeys().catch(() => undefined);
    await this.qdrant?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { STAGE_NAMES };
