import { z } from 'zod';
import { targetsSchema } from './targets.js';

/**
 * The whole configuration, parsed once at start. Values come from a config file
 * (`RAGSYNC_CONFIG`, YAML or JSON) overlaid by environment variables; see `env.ts` for the
 * variable names and README.md for the table.
 */
const tenantSchema = z.object({
  /** Active webhook secrets; several at once allow rotation. */
  secrets: z.array(z.string().min(1)).default([]),
  /** Store ids of the tenant: a Magento delete with store_id 0 becomes one tombstone per store. */
  stores: z.array(z.number().int().nonnegative()).default([0]),
  /** Shops and receivers this tenant's changes are pushed to (src/config/targets.ts). */
  targets: targetsSchema,
});
export type TenantConfig = z.infer<typeof tenantSchema>;

const filterSchema = z.object({
  /** Skip products whose status is disabled (2 in Magento). */
  skipDisabledProducts: z.boolean().default(true),
  /** Skip products with visibility "Not Visible Individually" (1). */
  skipInvisibleProducts: z.boolean().default(true),
  /** When non-empty, only these CMS identifiers are indexed. */
  cmsWhitelist: z.array(z.string()).default([]),
  /** CMS identifiers never indexed (the plan's defaults). */
  cmsBlacklist: z.array(z.string()).default(['no-route', 'home', 'enable-cookies']),
  /** Categories below this level (root = 1) are not indexed. */
  categoryMinLevel: z.number().int().nonnegative().default(2),
  skipInactiveCategories: z.boolean().default(true),
  skipInactivePromotions: z.boolean().default(true),
  skipExpiredPromotions: z.boolean().default(true),
});

const breakerSchema = z.object({
  /** Consecutive retryable failures of a target that open its circuit. */
  threshold: z.number().int().positive().default(5),
  /** How long an open circuit refuses calls before it lets probes through. */
  openMs: z.number().int().positive().default(5 * 60_000),
  /** Calls let through at once while half-open, across all replicas. */
  halfOpenProbes: z.number().int().positive().default(1),
});

/** A token bucket: `ratePerSecond` refills continuously up to `burst`. */
const rateLimitSchema = z.object({
  ratePerSecond: z.number().positive(),
  burst: z.number().int().positive(),
});

export const configSchema = z.object({
  kafka: z.object({
    brokers: z.array(z.string().min(1)).min(1).default(['127.0.0.1:19092']),
    clientId: z.string().default('ragsync'),
    ssl: z.boolean().default(false),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: z.string().min(1),
      })
      .optional(),
    /** How long a producer waits for Kafka's acknowledgement before the caller is told to retry. */
    ackTimeoutMs: z.number().int().positive().default(10_000),
  }),
  registry: z.object({
    url: z.string().url().default('http://127.0.0.1:18081/apis/ccompat/v7'),
    username: z.string().optional(),
    password: z.string().optional(),
  }),
  redis: z.object({
    url: z.string().default('redis://127.0.0.1:16379'),
    /** Prefix of every Redis key ragsync writes. */
    keyPrefix: z.string().default('ragsync:'),
  }),
  topics: z.object({
    prefix: z.string().regex(/^[A-Za-z0-9._-]*$/).default('ragsync.'),
    partitions: z.number().int().positive().default(6),
    replicationFactor: z.number().int().positive().default(1),
    minCompactionLagMs: z.number().int().nonnegative().default(0),
    deleteRetentionMs: z.number().int().positive().default(7 * 24 * 3600 * 1000),
    segmentMs: z.number().int().positive().default(24 * 3600 * 1000),
    /**
     * Delays of the terminal groups' retry topics, in order (`<group>.retry.<delay>`): a record
     * that fails with a retryable error waits the first, then the next; after the last it goes to
     * `<group>.dlq`. Magento plan §7.2: 5, 15 and 60 minutes.
     */
    retryDelaysMs: z.array(z.number().int().positive()).min(1).max(10).default([5 * 60_000, 15 * 60_000, 60 * 60_000]),
    /** Retention of retry and DLQ topics (delete policy). */
    retryRetentionMs: z.number().int().positive().default(7 * 24 * 3600 * 1000),
    dlqRetentionMs: z.number().int().positive().default(30 * 24 * 3600 * 1000),
    /** Orders carry personal data: bounded retention. */
    ordersRetentionMs: z.number().int().positive().default(30 * 24 * 3600 * 1000),
    /** max.message.bytes of every topic; producers check each record against it before sending. */
    maxMessageBytes: z.number().int().min(64 * 1024).default(4 * 1024 * 1024),
  }),
  ingress: z
    .object({
      /**
       * How far ahead of the receiving clock an event time (webhook `timestamp`/`updated_at`,
       * `publish` `occurred_at`, ERP event time) may lie; a later one is refused naming the field.
       */
      maxFutureSeconds: z.number().int().nonnegative().max(7 * 86_400).default(300),
    })
    .default({ maxFutureSeconds: 300 }),
  tenants: z.record(z.string(), tenantSchema).default({}),
  webhook: z.object({
    port: z.number().int().min(0).max(65535).default(8787),
    host: z.string().default('127.0.0.1'),
    bodyLimitBytes: z.number().int().positive().default(10 * 1024 * 1024),
    /** Reject bodies whose `timestamp` is older than this; 0 turns the check off (the default). */
    maxAgeSeconds: z.number().int().nonnegative().default(0),
    /** How far a sender's time ahead of the server clock may set versions (docs/connectors/magento-webhook.md). */
    maxVersionLeadSeconds: z.number().int().nonnegative().max(86_400).default(0),
    /** How long a delivered batch_id is remembered. */
    dedupeWindowSeconds: z.number().int().positive().default(24 * 3600),
    /**
     * What a batch with invalid items gets (docs/connectors/magento-webhook.md): `publish-valid`
     * publishes the other items and names the invalid ones in the 202; `refuse-batch` answers 400
     * and publishes nothing, for senders that drop the named items and resend.
     */
    invalidItems: z.enum(['publish-valid', 'refuse-batch']).default('publish-valid'),
  }),
  filters: filterSchema.default(filterSchema.parse({})),
  chunking: z.object({
    maxTokens: z.number().int().positive().default(256),
    overlapTokens: z.number().int().nonnegative().default(32),
    maxChunksPerDocument: z.number().int().positive().default(200),
  }),
  embedder: z.object({
    kind: z.enum(['auto', 'hashing', 'onnx', 'openai']).default('auto'),
    /** OpenAI-compatible endpoint base, e.g. http://127.0.0.1:11434/v1 for Ollama. */
    url: z.string().optional(),
    apiKey: z.string().optional(),
    model: z.string().optional(),
    dimensions: z.number().int().positive().optional(),
    batchSize: z.number().int().positive().default(64),
    batchWaitMs: z.number().int().nonnegative().default(20),
    timeoutMs: z.number().int().positive().default(30_000),
    /** The local ONNX model by name (LOCAL_MODELS in src/embedders/model-files.ts). */
    localModel: z.enum(['minilm', 'bge-small-en', 'bge-small-zh']).default('minilm'),
    /** Its folder; empty means `models/<the model's folder>`. */
    modelDir: z.string().default(''),
  }),
  store: z.object({
    qdrantUrl: z.string().url().optional(),
    qdrantApiKey: z.string().optional(),
    collection: z.string().default('ragsync'),
    lancedbPath: z.string().default('.data/lancedb'),
  }),
  search: z
    .object({
      /**
       * How `search` and `eval` rank (docs/retrieval.md): `hybrid` fuses BM25 over the chunks'
       * words with the dense vectors (reciprocal rank fusion), `dense` uses the vectors only,
       * `lexical` BM25 only. @defaultValue hybrid
       */
      mode: z.enum(['hybrid', 'dense', 'lexical']).default('hybrid'),
    })
    .default({ mode: 'hybrid' }),
  runner: z.object({
    /** Prefix of consumer group ids; defaults to the topic prefix. A new one replays everything. */
    groupPrefix: z.string().optional(),
    /** Partitions processed at once per stage; unset: every partition the member owns. */
    concurrency: z.number().int().positive().optional(),
    /**
     * Records a stage handles per call; offsets are committed after each such slice. Larger slices
     * mean fewer produce requests, commits and store writes a record: 2,000 with 4 MiB a partition
     * took `run all` from 74-80 s of CPU to 60 s for 100,000 entities, and the store alone from
     * about 4,300 to 6,100-6,800 documents a second, at the same peak memory (docs/performance.md).
     */
    maxRecordsPerCall: z.number().int().positive().default(2000),
    /**
     * How a process running several stages spreads them over threads (src/cli/stage-threads.ts):
     * `auto` (one per core but one, at most one per stage), a number, or groups like `map,chunk/embed,store`.
     */
    threads: z.string().default('auto'),
    /**
     * V8 old-generation limit of each stage thread, in MB (with several threads). The collector
     * works harder as a heap nears it, so a thread's memory stays near what it holds; a thread that
     * needs more than this fails and shows as crashed on /healthz.
     */
    threadHeapMb: z.number().int().min(64).default(192),
    /**
     * V8 young-generation size of each stage thread, in MB (with several threads). V8's default (48
     * MB, two 16 MB semi-spaces) lets short-lived garbage take that much resident memory per thread;
     * 12 MB (4 MB semi-spaces) collects it more often for a few percent more CPU (docs/performance.md).
     */
    threadYoungMb: z.number().int().min(3).default(12),
    /**
     * What one fetch of a stage's consumer may bring, in all and per partition: with the slice size
     * (`maxRecordsPerCall`) it bounds the records a stage holds at once (decoded, a few times their
     * size). A record larger than the per-partition figure is still fetched, alone. Per partition
     * it must hold a slice: at 1 MiB a partition brought about 480 vectors a fetch, so the store
     * wrote batches of that size whatever the slice.
     * `fetchMaxBytes` is for the stages that write to a target (the store, the push stages), whose
     * writes are batched: a larger fetch makes fewer, larger writes (with 4 MiB instead of 8 the
     * store alone applied 20 % fewer documents a second). `transformFetchMaxBytes` is for map,
     * chunk and embed, which work record by record and gain nothing from more: 2 MiB held about
     * 50 MB less in `run all` than 8, 1 MiB a little less again at the same speed (docs/performance.md).
     */
    fetchMaxBytes: z.number().int().min(64 * 1024).default(8 * 1024 * 1024),
    transformFetchMaxBytes: z.number().int().min(64 * 1024).default(1024 * 1024),
    fetchMaxBytesPerPartition: z.number().int().min(16 * 1024).default(4 * 1024 * 1024),
    sessionTimeoutMs: z.number().int().positive().default(30_000),
    /** A stage whose DLQ rate (records per minute) passes this pauses. */
    dlqRateCapPerMinute: z.number().int().positive().default(100),
  }),
  sinks: z
    .object({
      /** The circuit breaker of every sink's target (docs/sinks.md), shared by replicas through Redis. */
      breaker: breakerSchema.default(breakerSchema.parse({})),
      /** Rate limits by endpoint name (a sink's target, e.g. `qdrant:host:6333/ragsync`); an endpoint not named has none. */
      rateLimits: z.record(z.string().min(1), rateLimitSchema).default({}),
    })
    .default({ breaker: breakerSchema.parse({}), rateLimits: {} }),
  http: z.object({
    port: z.number().int().min(0).max(65535).default(9464),
    host: z.string().default('127.0.0.1'),
  }),
  /** `ragsync dashboard` (docs/operations.md): where it listens and the token its users give. */
  dashboard: z
    .object({
      /** Shared secret of the dashboard's users; long enough not to be guessed. */
      token: z.string().min(16, 'at least 16 characters').optional(),
      port: z.number().int().min(0).max(65535).default(8790),
      host: z.string().default('127.0.0.1'),
    })
    .default({ port: 8790, host: '127.0.0.1' }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;
