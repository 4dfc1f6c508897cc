import type { Config } from '../config/index.js';
import type { StageDefinition } from '../core/stage.js';
import { ConfigError } from '../core/errors.js';
import type { Sink } from '../core/sink.js';
import { STAGES, type PUSH_STAGE_NAMES, type StageName } from '../core/stages.js';
import { changeClassOf, SLA_SECONDS } from '../sinks/change-class.js';
import { composeSink } from '../sinks/compose.js';
import { createSinkStage } from '../sinks/sink-stage.js';
import { routeByTenant } from '../sinks/tenant-router.js';
import { buildTargetSinks } from '../sinks/targets.js';
import { createChunkStage } from '../consumers/chunk/chunk-stage.js';
import { cachedChunkEmbedder } from '../consumers/embed/cached-chunk-embedder.js';
import { createEmbedStage } from '../consumers/embed/embed-stage.js';
import { createMapStage, MAP_INPUTS } from '../consumers/map/map-stage.js';
import { MAP_STATE_TOPIC } from '../consumers/map/version-state.js';
import { storeTarget } from '../consumers/store/store-sink.js';
import { createStoreStage } from '../consumers/store/store-stage.js';
import { RedisCircuitBreaker } from '../coordination/circuit-breaker.js';
import { RedisRateLimiter } from '../coordination/rate-limiter.js';
import { createCoordinationRedis } from '../coordination/redis.js';
import type { SinkWrappers } from '../sinks/compose.js';
import type { Redis } from 'ioredis';
import { createEmbedder, MicroBatcher, RedisEmbeddingCache, type Embedder } from '../embedders/index.js';
import { createKafka } from '../kafka/client.js';
import { RegistryClient } from '../kafka/registry.js';
import { RegistrySerde } from '../kafka/serde.js';
import type { PlatformaticMessageProducer } from '../kafka/platformatic-producer.js';
import { createRetryStage, retryConsumerOptions, withRetryDue } from '../kafka/retry-topics.js';
import { StageRunner } from '../kafka/stage-runner.js';
import { retryDueTopicName, retryTopicName } from '../kafka/topic-catalogue.js';
import { withAdmin } from '../kafka/admin.js';
import { untilKafkaReachable } from '../kafka/until-reachable.js';
import { stagesLagSource } from '../kafka/lag.js';
import { verifyTopics } from '../kafka/topics.js';
import { createKafkaVersionState } from '../kafka/version-state.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ActivityRecorder, indexedChangeClass } from '../observability/activity.js';
import { createVectorStore, type VectorStore } from '../stores/index.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { approxTokenizer } from '../text/approx-tokenizer.js';

export { STAGE_NAMES, type StageName } from '../core/stages.js';

type PushStageName = (typeof PUSH_STAGE_NAMES)[number];

export interface PipelineOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Applied to every stage built (a resync skips records outside its tenant and types with it). */
  wrapStage?: (stage: StageDefinition) => StageDefinition;
}

/**
 * Builds the runners of the requested stages and what they share (one Kafka client, one registry
 * serde, one embedder, one store). Nothing connects before `start()`.
 */
export class Pipeline {
  readonly runners: StageRunner[] = [];
  private embedder: Embedder | undefined;
  private cache: RedisEmbeddingCache | undefined;
  private store: VectorStore | undefined;
  private embedderLoad: Promise<Embedder> | undefined;
  private storeLoad: Promise<VectorStore> | undefined;
  private coordination: Redis | undefined;
  /** What this process' stages did, shared with `status` and the dashboard through Redis. */
  private activity: ActivityRecorder | undefined;
  private stopRequested = false;
  /** The start in progress or done (never rejects). */
  private starting: Promise<void> | undefined;
  embedderNote = '';
  /** True when `EMBEDDER=auto` fell back to the hashing embedder (logged as a warning). */
  embedderFallback = false;
  /** Counters of the embed stage in this process: model calls and texts embedded. */
  embeddingStats: { calls: number; texts: number; cacheHits: number } | undefined;

  constructor(private readonly options: PipelineOptions) {}

  private get config(): Config {
    return this.options.config;
  }

  /**
   * The embedder, loaded once (the stages start together and may ask for it at once): its
   * tokenizer sizes chunks and its dimension sizes the collection.
   */
  getEmbedder(): Promise<Embedder> {
    this.embedderLoad ??= (async () => {
      const { embedder, note, fallback } = await createEmbedder(this.config.embedder);
      this.embedderNote = note;
      this.embedderFallback = fallback;
      this.embedder = new MicroBatcher(embedder, { batchSize: this.config.embedder.batchSize, batchWaitMs: this.config.embedder.batchWaitMs });
      return this.embedder;
    })();
    return this.embedderLoad;
  }

  /** The store, connected and its collection ensured once. */
  getStore(): Promise<VectorStore> {
    this.storeLoad ??= (async () => {
      const embedder = await this.getEmbedder();
      this.store = createVectorStore(this.config.store);
      await this.store.connect();
      await this.store.ensureCollection({ dimension: embedder.dimension, distance: embedder.distance.toLowerCase() as 'cosine' | 'dot' | 'euclid', modelId: embedder.id });
      return this.store;
    })();
    return this.storeLoad;
  }

  private async tokenizer(): Promise<Tokenizer> {
    const embedder = await this.getEmbedder();
    return embedder.tokenizer ?? approxTokenizer;
  }

  /**
   * How each declared stage (src/core/stages.ts) is built: one factory per name, so a stage
   * declared there and not buildable here does not compile.
   */
  private readonly factories: { [N in StageName]: () => Promise<StageDefinition> } = {
    map: async () => {
      // Per-key version state on map.state (docs/design.md §2), read back on every assignment
      // with a client of its own; the runner writes it as the stage's outputs.
      const kafka = createKafka(this.config, { clientIdSuffix: 'map-state' });
      // Stopped during the wait, the stage built is dropped by startStages, which checks again.
      await this.verifyTopics(kafka, [MAP_STATE_TOPIC], 'map');
      const serde = new RegistrySerde(new RegistryClient(this.config.registry), { prefix: this.config.topics.prefix });
      await serde.registerAll([MAP_STATE_TOPIC]);
      const logger = this.options.logger.child({ stage: 'map' });
      const state = createKafkaVersionState({ kafka, codec: serde, topicPrefix: this.config.topics.prefix, logger, changeTopics: MAP_INPUTS });
      return createMapStage(this.config, { state, logger, maxStateValueBytes: Math.max(0, this.config.topics.maxMessageBytes - 64 * 1024) }) as StageDefinition;
    },
    chunk: async () => createChunkStage(this.config, await this.tokenizer()) as StageDefinition,
    embed: async () => {
      const embedder = await this.getEmbedder();
      this.cache = RedisEmbeddingCache.fromUrl(this.config.redis.url, { keyPrefix: this.config.redis.keyPrefix });
      const chunkEmbedder = cachedChunkEmbedder(embedder, this.cache, this.options.logger, this.options.metrics);
      this.embeddingStats = chunkEmbedder.stats;
      return createEmbedStage(chunkEmbedder) as StageDefinition;
    },
    store: async () => {
      const store = await this.getStore();
      const histogram = this.options.metrics.sourceToIndexedSeconds;
      return createStoreStage(store, {
        onIndexed: (occurredAt, record) => {
          histogram.observe({ stage: 'store' }, Math.max(0, Date.now() - occurredAt) / 1000);
          this.activity?.latency('index', indexedChangeClass(record.topic, record.key), Date.now() - occurredAt);
        },
        target: storeTarget(this.config.store),
        wrappers: this.sinkWrappers(),
      }) as StageDefinition;
    },
    'push-shopware': () => this.pushStage('push-shopware'),
    'push-shopware-price': () => this.pushStage('push-shopware-price'),
    'push-shopware-stock': () => this.pushStage('push-shopware-stock'),
    'push-woocommerce': () => this.pushStage('push-woocommerce'),
    'push-woocommerce-price': () => this.pushStage('push-woocommerce-price'),
    'push-woocommerce-stock': () => this.pushStage('push-woocommerce-stock'),
    'push-webhook': () => this.pushStage('push-webhook'),
  };

  /**
   * A push stage (docs/sinks.md): one sink per tenant target of the stage's kind, each in its own
   * breaker and rate limit (keyed by the target's name), routed by the tenant in the record key.
   * Latency from the source is observed per change class and target, with the class's SLA.
   */
  private async pushStage(name: PushStageName): Promise<StageDefinition> {
    const declaration = STAGES[name];
    const kind = declaration.target!;
    const logger = this.options.logger.child({ stage: name });
    const wrappers = this.sinkWrappers();
    const sinks = new Map<string, Sink[]>();
    for (const [tenant, { targets }] of Object.entries(this.config.tenants)) {
      const built = buildTargetSinks(kind, tenant, targets, { logger, redis: () => (this.coordination ??= createCoordinationRedis(this.config.redis.url)), keyPrefix: this.config.redis.keyPrefix });
      if (built.length > 0) sinks.set(tenant, built.map((sink) => composeSink(sink, wrappers)));
    }
    if (sinks.size === 0) throw new ConfigError(`${name}: no tenant configures targets.${kind} (RAGSYNC_TENANTS or the config file; docs/connectors)`);
    const { sourceToTargetSeconds, slaBreaches } = this.options.metrics;
    const inputs = declaration.inputs.filter((input) => input !== retryDueTopicName(declaration.group));
    return createSinkStage({ name, group: declaration.group, inputs, terminal: true, coPartitioned: declaration.coPartitioned }, routeByTenant(name, sinks), {
      onApplied: (record) => {
        const changeClass = changeClassOf(record.topic);
        const seconds = Math.max(0, Date.now() - record.occurredAt) / 1000;
        const labels = { class: changeClass, target: kind };
        sourceToTargetSeconds.observe(labels, seconds);
        this.activity?.latency(kind, changeClass, seconds * 1000);
        if (seconds > SLA_SECONDS[changeClass]) slaBreaches.inc(labels);
      },
    }) as StageDefinition;
  }

  /**
   * The circuit breaker and rate limiter every sink of this process is wrapped in (docs/sinks.md):
   * their state lives in Redis, shared by every replica, over one connection of this pipeline.
   */
  private sinkWrappers(): SinkWrappers {
    this.coordination ??= createCoordinationRedis(this.config.redis.url);
    const logger = this.options.logger.child({ component: 'coordination' });
    const { breaker, rateLimits } = this.config.sinks;
    return {
      breaker: new RedisCircuitBreaker(this.coordination, {
        keyPrefix: this.config.redis.keyPrefix,
        failureThreshold: breaker.threshold,
        openMs: breaker.openMs,
        halfOpenProbes: breaker.halfOpenProbes,
        logger,
        metrics: this.options.metrics,
      }),
      limiter: new RedisRateLimiter(this.coordination, { keyPrefix: this.config.redis.keyPrefix, limits: rateLimits, logger }),
    };
  }

  /**
   * Starts the stages, all at once. A `stop` meanwhile ends each at its next step: a stage not
   * built yet never starts (a worker stopped while it starts exits at once).
   */
  async start(names: readonly StageName[]): Promise<void> {
    const starting = this.startStages(names);
    this.starting = starting.catch(() => undefined);
    await starting;
  }

  private async startStages(names: readonly StageName[]): Promise<void> {
    if (this.stopRequested) return;
    this.activity = new ActivityRecorder((this.coordination ??= createCoordinationRedis(this.config.redis.url)), { keyPrefix: this.config.redis.keyPrefix, metrics: this.options.metrics });
    this.activity.start();
    const kafka = createKafka(this.config, { logger: this.options.logger.child({ component: 'kafkajs' }) });
    const serde = new RegistrySerde(new RegistryClient(this.config.registry), { prefix: this.config.topics.prefix });
    // Stages produce with @platformatic/kafka (about half of kafkajs' CPU per produced record,
    // docs/performance.md), loaded only here: it compiles its option schemas when loaded.
    const { PlatformaticMessageProducer } = await import('../kafka/platformatic-producer.js');
    // Every stage starts at once: one after the other, the last of them joined its group only after
    // all before it had (seconds each), and a broker lost in the meantime found them half started.
    // A stage whose start fails does not stop the others' starts; the first failure is thrown once
    // all have ended, so that a `stop` afterwards finds every runner built.
    const outcomes = await Promise.allSettled(names.map((name) => this.startStage(name, kafka, serde, PlatformaticMessageProducer)));
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    if (this.stopRequested) return;
    this.options.metrics.setLagSource(stagesLagSource(kafka, this.config.topics.prefix, this.runners));
  }

  /** Builds one stage (and the retry consumer of a terminal one) and starts them. */
  private async startStage(name: StageName, kafka: ReturnType<typeof createKafka>, serde: RegistrySerde, Producer: typeof PlatformaticMessageProducer): Promise<void> {
    if (this.stopRequested) return;
    const declaration = STAGES[name];
    const made = await this.factories[name]();
    const built = this.options.wrapStage ? this.options.wrapStage(made) : made;
    // Terminal stages hand retryable failures to their delayed retry topics, and read them back,
    // once due, from <group>.retry.due (docs/design.md §4).
    const stage = declaration.terminal ? withRetryDue(built) : built;
    const retry = declaration.terminal ? { delaysMs: this.config.topics.retryDelaysMs } : undefined;
    const tiers = retry ? retry.delaysMs.map((delay) => retryTopicName(stage.group, delay)) : [];
    const topics = [...stage.inputs, ...(stage.output ? [stage.output] : []), `${stage.group}.dlq`, ...tiers];
    if (!(await this.verifyTopics(kafka, topics, name))) return;
    // The retry tiers and the due topic have no schema of their own: their values are decoded with the original topic's.
    await serde.registerAll([...built.inputs, ...(built.output ? [built.output] : [])]);
    const common = {
      kafka,
      createProducer: () => new Producer(this.config, { clientIdSuffix: name }),
      codec: serde,
      metrics: this.options.metrics,
      topicPrefix: this.config.topics.prefix,
      ...(this.config.runner.groupPrefix ? { groupPrefix: this.config.runner.groupPrefix } : {}),
      concurrency: this.config.runner.concurrency,
      maxRecordsPerCall: this.config.runner.maxRecordsPerCall,
      // Stages that write to a target batch their writes: a larger fetch, fewer and larger writes.
      fetch: { maxBytes: declaration.terminal ? this.config.runner.fetchMaxBytes : this.config.runner.transformFetchMaxBytes, maxBytesPerPartition: this.config.runner.fetchMaxBytesPerPartition },
      sessionTimeoutMs: this.config.runner.sessionTimeoutMs,
      dlqRateCapPerMinute: this.config.runner.dlqRateCapPerMinute,
      maxMessageBytes: this.config.topics.maxMessageBytes,
      failurePolicy: declaration.policy,
    };
    const runner = new StageRunner(stage, { ...common, logger: this.options.logger.child({ stage: name }), ...(retry ? { retry } : {}) });
    // It only forwards due records to <group>.retry.due: the stage's own group writes them.
    const retryRunner = retry ? new StageRunner(createRetryStage(built, retry), { ...common, logger: this.options.logger.child({ stage: `${name}.retry` }), ...retryConsumerOptions(retry) }) : undefined;
    // Listed before anything can stop the start, so that `stop` closes the stages built.
    this.runners.push(runner, ...(retryRunner ? [retryRunner] : []));
    if (this.stopRequested) return;
    await Promise.all([runner.start(), retryRunner?.start()]);
  }

  /**
   * Workers never create topics: they refuse to start when theirs are missing or misconfigured. A
   * broker away while the worker starts is waited for (see untilKafkaReachable); false when the
   * start was stopped meanwhile.
   */
  private async verifyTopics(kafka: ReturnType<typeof createKafka>, topics: string[], stage: string): Promise<boolean> {
    const verified = await untilKafkaReachable(() => withAdmin(kafka, (admin) => verifyTopics(admin, this.config, topics)).then(() => true), {
      what: `checking the topics of the ${stage} stage`,
      logger: this.options.logger.child({ stage }),
      stopped: () => this.stopRequested,
    });
    return verified === true;
  }

  /** Graceful: finishes in-flight batches, commits, leaves the groups, closes clients. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    // The start in progress ends at its next step (a stage joining its group finishes joining):
    // stopping before it has would leave what it builds afterwards running.
    await this.starting;
    this.options.metrics.setLagSource(undefined);
    await Promise.all(this.runners.map((r) => r.stop()));
    await this.activity?.stop();
    await this.embedder?.close();
    await this.cache?.close();
    await this.store?.close();
    this.coordination?.disconnect();
  }
}
