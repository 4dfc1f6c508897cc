import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus metrics of a worker process, served on /metrics. One registry per process; stage
 * runners label everything with their stage name.
 */
export interface Metrics {
  registry: Registry;
  records: Counter<'stage' | 'outcome'>;
  dlq: Counter<'stage' | 'error_class'>;
  paused: Gauge<'stage' | 'reason'>;
  batchSeconds: Histogram<'stage'>;
  /** Time from `occurred_at` at the source to the store's acknowledgement. */
  sourceToIndexedSeconds: Histogram<'stage'>;
  /** Time from `occurred_at` at the source to a push target's acknowledgement, by change class and target. */
  sourceToTargetSeconds: Histogram<'class' | 'target'>;
  /** Changes that reached a push target later than their class allows (src/sinks/change-class.ts). */
  slaBreaches: Counter<'class' | 'target'>;
  /** Texts embedded, by `source`: `model` (sent to the model) or `cache` (its vector was cached). */
  embeddings: Counter<'model' | 'source'>;
  /** Calls to the embedding model, failed ones included. */
  embeddingCalls: Counter<'model'>;
  /** Consumer-group lag per stage, read from Kafka when /metrics is scraped. */
  consumerLag: Gauge<'stage' | 'group'>;
  /** Circuit breaker state per target as this process last saw it: 0 closed, 1 half-open, 2 open. */
  circuitState: Gauge<'target'>;
  /** Where `consumerLag` reads from; a process that runs no stage leaves it unset (no samples). */
  setLagSource(source: LagSource | undefined): void;
}

export interface StageLag {
  stage: string;
  group: string;
  lag: number;
}
export type LagSource = () => Promise<StageLag[]>;

/** How long a scrape waits for the lag from Kafka (Prometheus' default scrape timeout is 10 s). */
const LAG_READ_TIMEOUT_MS = 5_000;

/**
 * `defaultMetrics: false` leaves out prom-client's process and Node.js metrics; `processMetrics:
 * false` leaves out every process-wide figure, the RSS gauge too (a stage thread's registry, whose
 * figures the main thread adds to its own: process figures would be counted once per thread).
 */
export function createMetrics(options: { defaultMetrics?: boolean; processMetrics?: boolean; thread?: string } = {}): Metrics {
  const registry = new Registry();
  let lagSource: LagSource | undefined;
  const processMetrics = options.processMetrics ?? true;
  if (processMetrics && (options.defaultMetrics ?? true)) collectDefaultMetrics({ register: registry, prefix: 'ragsync_process_' });
  // prom-client's own RSS gauge is named `process_resident_memory_bytes`, so under our prefix it
  // reads `ragsync_process_process_…`. This one has the name alerts look for, and is there even
  // when the default metrics are off.
  new Gauge({
    name: 'ragsync_process_resident_memory_bytes',
    help: 'Resident set size of the process in bytes (read at scrape time)',
    registers: processMetrics ? [registry] : [],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  // Each thread's own V8 heap (a stage thread's is capped by runner.threadHeapMb): with the RSS it
  // tells how much of a process' memory is JavaScript objects and how much is native (LanceDB,
  // Arrow buffers, malloc's arenas).
  new Gauge({
    name: 'ragsync_thread_heap_bytes',
    help: 'V8 heap of one thread of the process in bytes, used and total (read at scrape time)',
    labelNames: ['thread', 'kind'],
    registers: [registry],
    collect() {
      const heap = getHeapStatistics();
      const thread = options.thread ?? 'main';
      this.set({ thread, kind: 'used' }, heap.used_heap_size);
      this.set({ thread, kind: 'total' }, heap.total_heap_size);
      this.set({ thread, kind: 'external' }, heap.external_memory);
    },
  });
  return {
    registry,
    records: new Counter({ name: 'ragsync_records_total', help: 'Input records handled, by outcome (ok, dlq, stale)', labelNames: ['stage', 'outcome'], registers: [registry] }),
    dlq: new Counter({ name: 'ragsync_dlq_records_total', help: 'Records sent to a dead-letter topic', labelNames: ['stage', 'error_class'], registers: [registry] }),
    paused: new Gauge({ name: 'ragsync_stage_paused', help: '1 while a stage is paused, by reason', labelNames: ['stage', 'reason'], registers: [registry] }),
    batchSeconds: new Histogram({ name: 'ragsync_batch_seconds', help: 'Time to process one fetched batch', labelNames: ['stage'], registers: [registry], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60] }),
    sourceToIndexedSeconds: new Histogram({
      name: 'ragsync_source_to_indexed_seconds',
      help: 'Latency from occurred_at at the source to the store acknowledgement',
      labelNames: ['stage'],
      registers: [registry],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
    }),
    sourceToTargetSeconds: new Histogram({
      name: 'ragsync_source_to_target_seconds',
      help: 'Latency from occurred_at at the source to a push target (shop, webhook receiver) acknowledging it, by change class',
      labelNames: ['class', 'target'],
      registers: [registry],
      buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600],
    }),
    slaBreaches: new Counter({
      name: 'ragsync_sla_breaches_total',
      help: 'Changes that reached a push target later than their class allows (price 2 min, stock 5 min, product 15 min, category 30 min)',
      labelNames: ['class', 'target'],
      registers: [registry],
    }),
    embeddings: new Counter({ name: 'ragsync_embeddings_total', help: 'Chunk texts embedded, by source (model: sent to the model, cache: served from the cache)', labelNames: ['model', 'source'], registers: [registry] }),
    embeddingCalls: new Counter({ name: 'ragsync_embedding_calls_total', help: 'Calls to the embedding model, failed ones included', labelNames: ['model'], registers: [registry] }),
    consumerLag: new Gauge({
      name: 'ragsync_consumer_lag',
      help: 'Records on the input topics not yet committed by the stage consumer group (read at scrape time)',
      labelNames: ['stage', 'group'],
      registers: [registry],
      async collect() {
        this.reset();
        if (!lagSource) return;
        // Kafka unreachable or slow: no samples rather than a failed or timed-out scrape.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<StageLag[]>((resolve) => (timer = setTimeout(() => resolve([]), LAG_READ_TIMEOUT_MS)));
        const lags = await Promise.race([lagSource().catch(() => []), late]);
        clearTimeout(timer);
        for (const l of lags) this.set({ stage: l.stage, group: l.group }, l.lag);
      },
    }),
    circuitState: new Gauge({
      name: 'ragsync_circuit_state',
      help: 'Circuit breaker state per target as this process last saw it (0 closed, 1 half-open, 2 open)',
      labelNames: ['target'],
      registers: [registry],
    }),
    setLagSource(source) {
      lagSource = source;
    },
  };
}
