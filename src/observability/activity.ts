import type { Redis } from 'ioredis';
import type { Metrics } from './metrics.js';

/**
 * What the replicas of a pipeline did lately, shared through Redis so that `ragsync status` and the
 * dashboard see every replica's work, not one process': records handled per stage per second,
 * embedding cache hits and misses per second, and a few recent source-to-target latencies per
 * change class. Coordination data only: when Redis is away nothing is recorded and the pipeline
 * goes on.
 *
 * Keys (under the configured Redis prefix):
 * - `activity:s:<epoch second>`: a hash, field per stage (records handled, any outcome), plus
 *   `cache:hit` and `cache:miss`; it expires after {@link SECOND_TTL_S}.
 * - `activity:latency:<where>:<class>`: a list of `<at ms>:<latency ms>`, newest first, at most
 *   {@link LATENCY_SAMPLES} long; the set `activity:latency` names the `<where>:<class>` pairs.
 */

/** How long a per-second hash lives: the history charts and rates can read. */
export const SECOND_TTL_S = 15 * 60;
/** Latency samples kept per (where, class). */
export const LATENCY_SAMPLES = 100;
/** Samples written per (where, class) per flush: the newest; a burst needs no more to be described. */
const SAMPLES_PER_FLUSH = 10;

export interface ActivityRecorderOptions {
  keyPrefix: string;
  /** The process' counters the recorder reads: records per stage, embeddings by source. */
  metrics: Pick<Metrics, 'records' | 'embeddings'>;
  /** @defaultValue 1000 */
  flushMs?: number;
  now?: () => number;
}

/**
 * Reads the process' record and embedding counters once per `flushMs` and writes what changed since
 * the last flush to Redis in one pipelined round trip (so the stages' hot path gains no call at
 * all), together with the latency samples handed to {@link latency} meanwhile.
 */
export class ActivityRecorder {
  private readonly last = new Map<string, number>();
  private samples = new Map<string, number[][]>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly options: ActivityRecorderOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    // The counters' values at start are not this run's activity.
    void this.deltas();
    this.timer = setInterval(() => void this.flush(), this.options.flushMs ?? 1000);
    this.timer.unref();
  }

  /** A change reached `where` (`index`, or a push target kind) `ms` after it occurred at its source. */
  latency(where: string, changeClass: string, ms: number): void {
    const id = `${where}:${changeClass}`;
    const list = this.samples.get(id) ?? [];
    list.push([this.now(), Math.max(0, Math.round(ms))]);
    if (list.length > SAMPLES_PER_FLUSH) list.shift();
    this.samples.set(id, list);
  }

  /** Writes what happened since the last flush; one at a time, failures dropped (Redis away). */
  flush(): Promise<void> {
    this.flushing ??= this.write()
      .catch(() => undefined)
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }

  /** Per counter series, the increase since the previous call. */
  private async deltas(): Promise<Map<string, number>> {
    const changed = new Map<string, number>();
    const add = (field: string, id: string, value: number) => {
      const increase = value - (this.last.get(id) ?? 0);
      this.last.set(id, value);
      if (increase > 0) changed.set(field, (changed.get(field) ?? 0) + increase);
    };
    for (const v of (await this.options.metrics.records.get()).values) add(String(v.labels.stage), `records:${v.labels.stage}:${v.labels.outcome}`, v.value);
    for (const v of (await this.options.metrics.embeddings.get()).values) {
      add(v.labels.source === 'cache' ? 'cache:hit' : 'cache:miss', `embeddings:${v.labels.model}:${v.labels.source}`, v.value);
    }
    return changed;
  }

  private async write(): Promise<void> {
    const changed = await this.deltas();
    const samples = this.samples;
    this.samples = new Map();
    if (changed.size === 0 && samples.size === 0) return;
    const p = this.options.keyPrefix;
    const batch = this.redis.pipeline();
    if (changed.size > 0) {
      const key = `${p}activity:s:${Math.floor(this.now() / 1000)}`;
      for (const [field, increase] of changed) batch.hincrby(key, field, increase);
      batch.expire(key, SECOND_TTL_S);
    }
    if (samples.size > 0) batch.sadd(`${p}activity:latency`, ...samples.keys());
    for (const [id, list] of samples) {
      const key = `${p}activity:latency:${id}`;
      batch.lpush(key, ...list.map(([at, ms]) => `${at}:${ms}`));
      batch.ltrim(key, 0, LATENCY_SAMPLES - 1);
      batch.expire(key, 86_400);
    }
    if (samples.size > 0) batch.expire(`${p}activity:latency`, 86_400);
    await batch.exec();
  }
}

/** The class of a change as it reaches the index: price and stock by topic, the rest by entity type. */
export function indexedChangeClass(topic: string, key: string | null): string {
  if (topic.endsWith('changes.product_price')) return 'price';
  if (topic.endsWith('changes.product_stock')) return 'stock';
  const entityType = key?.split('/')[1];
  return entityType === 'product' || entityType === 'category' ? entityType : 'content';
}

export interface LatencySummary {
  where: string;
  class: string;
  samples: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** When the newest sample was taken, ISO 8601. */
  lastAt: string;
}

export interface ActivitySnapshot {
  /** Records handled per stage over the window, per second (all replicas). */
  ratePerSecond: Record<string, number>;
  /** Per second of the window, oldest first: records per stage. */
  series: Array<{ at: number; stages: Record<string, number> }>;
  cache: { hits: number; misses: number; hitRatio: number | null };
  latency: LatencySummary[];
  windowSeconds: number;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;

/**
 * Reads the shared activity: per-stage rates and the cache hit ratio over the last `windowSeconds`
 * (the current second included), the per-second series, and latency quantiles per class.
 */
export async function readActivity(redis: Redis, keyPrefix: string, options: { now?: number; windowSeconds?: number } = {}): Promise<ActivitySnapshot> {
  const window = options.windowSeconds ?? 60;
  const nowSecond = Math.floor((options.now ?? Date.now()) / 1000);
  const seconds = Array.from({ length: window }, (_, i) => nowSecond - window + 1 + i);
  const batch = redis.pipeline();
  for (const s of seconds) batch.hgetall(`${keyPrefix}activity:s:${s}`);
  const hashes = ((await batch.exec()) ?? []).map(([error, value]) => (error ? {} : (value as Record<string, string>)));
  const totals: Record<string, number> = {};
  let hits = 0;
  let misses = 0;
  const series = seconds.map((at, i) => {
    const stages: Record<string, number> = {};
    for (const [field, text] of Object.entries(hashes[i] ?? {})) {
      const n = Number(text);
      if (field === 'cache:hit') hits += n;
      else if (field === 'cache:miss') misses += n;
      else {
        stages[field] = n;
        totals[field] = (totals[field] ?? 0) + n;
      }
    }
    return { at: at * 1000, stages };
  });
  const ratePerSecond = Object.fromEntries(Object.entries(totals).map(([stage, n]) => [stage, n / window]));
  const latency: LatencySummary[] = [];
  const latencyKeys = (await redis.smembers(`${keyPrefix}activity:latency`)).sort().map((id) => `${keyPrefix}activity:latency:${id}`);
  if (latencyKeys.length > 0) {
    const lists = redis.pipeline();
    for (const key of latencyKeys) lists.lrange(key, 0, -1);
    const answers = (await lists.exec()) ?? [];
    latencyKeys.forEach((key, i) => {
      const [error, value] = answers[i] ?? [null, []];
      if (error) return;
      const parsed = (value as string[]).map((s) => s.split(':').map(Number) as [number, number]).filter(([at, ms]) => Number.isFinite(at) && Number.isFinite(ms));
      if (parsed.length === 0) return;
      const [where, changeClass] = key.slice(`${keyPrefix}activity:latency:`.length).split(':') as [string, string];
      const sorted = parsed.map(([, ms]) => ms).sort((a, b) => a - b);
      latency.push({
        where,
        class: changeClass,
        samples: sorted.length,
        p50Ms: quantile(sorted, 0.5),
        p95Ms: quantile(sorted, 0.95),
        maxMs: sorted[sorted.length - 1]!,
        lastAt: new Date(Math.max(...parsed.map(([at]) => at))).toISOString(),
      });
    });
    latency.sort((a, b) => a.where.localeCompare(b.where) || a.class.localeCompare(b.class));
  }
  return { ratePerSecond, series, cache: { hits, misses, hitRatio: hits + misses > 0 ? hits / (hits + misses) : null }, latency, windowSeconds: window };
}
