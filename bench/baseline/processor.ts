/**
 * The seed design's queue processor (Magento plan §2, §7): every interval (cron, every minute by
 * default) it takes a batch of 50 pending rows and handles them one by one — the entity's current
 * data read, mapped, chunked, embedded with one call to the embedding endpoint per item, upserted
 * into the store — and marks each sent; a failure puts the row back to pending after the next retry
 * delay (5, 15, 60 minutes), then `dead`. Mapping and chunking are ragsync's own code, so what a
 * comparison measures is the architecture, not the transforms.
 */
import type { Config } from '../../src/config/index.js';
import type { ChunkSetRecord, DocumentRecord } from '../../src/core/records.js';
import type { InputRecord } from '../../src/core/stage.js';
import { toChunkSet } from '../../src/consumers/chunk/chunk-stage.js';
import { createEmbedStage } from '../../src/consumers/embed/embed-stage.js';
import { createMapStage } from '../../src/consumers/map/map-stage.js';
import type { Embedder } from '../../src/embedders/embedder.js';
import type { VectorStore } from '../../src/stores/vector-store.js';
import { approxTokenizer } from '../../src/text/approx-tokenizer.js';
import type { QueueItem, SyncQueue } from './queue.js';

export interface ProcessorOptions {
  /** Time between two cron runs. @defaultValue 60000 (the seed's `* * * * *`) */
  intervalMs?: number;
  /** Rows per cron run. @defaultValue 50 */
  batchSize?: number;
  /** Retry delays (seed: 5, 15, 60 minutes). */
  retryDelaysMs?: readonly number[];
  /** Called once per item stored, with the time from its latest save to its upsert (ms). */
  onSent?: (item: QueueItem, latencyMs: number) => void;
}

export const SEED_DEFAULTS = { intervalMs: 60_000, batchSize: 50, retryDelaysMs: [5 * 60_000, 15 * 60_000, 60 * 60_000] } as const;

export class QueueProcessor {
  private readonly map;
  private readonly embed;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  readonly stats = { runs: 0, sent: 0, failed: 0 };

  constructor(
    private readonly queue: SyncQueue,
    private readonly config: Config,
    private readonly embedder: Embedder,
    private readonly store: VectorStore,
    private readonly options: ProcessorOptions = {},
  ) {
    this.map = createMapStage(config);
    // One endpoint call per item: the embed stage called with that item's record alone, no cache.
    this.embed = createEmbedStage({
      modelId: embedder.id,
      dimension: embedder.dimension,
      embed: async (items) => ({ vectors: await embedder.embed(items.map((i) => i.text)), cached: items.map(() => false) }),
    });
  }

  /** Starts the cron: one run at once, then one every interval (a run still going skips its turn). */
  start(): void {
    const tick = () => {
      if (this.stopped || this.running) return;
      this.running = this.runOnce().finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? SEED_DEFAULTS.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One cron run: a batch claimed and each of its items handled in turn. */
  async runOnce(): Promise<number> {
    this.stats.runs += 1;
    const items = await this.queue.claim(this.options.batchSize ?? SEED_DEFAULTS.batchSize, Date.now());
    for (const item of items) {
      if (this.stopped) break;
      try {
        await this.process(item);
        await this.queue.sent(item, Date.now());
        this.stats.sent += 1;
        this.options.onSent?.(item, Date.now() - item.updatedAt);
      } catch (error) {
        this.stats.failed += 1;
        await this.queue.failed(item, (error as Error).message, Date.now(), this.options.retryDelaysMs ?? SEED_DEFAULTS.retryDelaysMs);
      }
    }
    return items.length;
  }

  private async process(item: QueueItem): Promise<void> {
    const current = await this.queue.current(item);
    if (!current) throw new Error(`entity ${item.entityType} ${item.entityId} not found`);
    const key = String(current.data.__key);
    const { __key: _key, ...value } = current.data;
    value.source_version = current.version;
    const record: InputRecord = { topic: `changes.${item.entityType}`, partition: 0, offset: '0', key, value, headers: {}, sourceVersion: current.version, occurredAt: Number(value.occurred_at ?? Date.now()) };
    const [mapped] = await this.map.process([record], context);
    if (!mapped?.ok) throw mapped?.error ?? new Error('map: no result');
    const document = mapped.outputs[0]!;
    if (document.value === null) {
      await this.store.deleteDocument(key, current.version, Date.now());
      return;
    }
    const set: ChunkSetRecord = toChunkSet(document.value as DocumentRecord, approxTokenizer, this.config.chunking);
    const [embedded] = await this.embed.process([{ ...record, topic: 'chunks', value: set }], context);
    if (!embedded?.ok) throw embedded?.error ?? new Error('embed: no result');
    const vectors = embedded.outputs[0]!.value!;
    await this.store.applyVectorSet(vectors);
  }
}

const context = { heartbeat: async () => undefined, isStale: () => false };
