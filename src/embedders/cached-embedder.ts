import { SystemError, describeError } from '../core/errors.js';
import type { EmbeddingCache } from './cache.js';
import type { Embedder } from './embedder.js';

/** A text to embed and the hash that identifies it (the chunk hash: sha256 hex of the text). */
export interface HashedText {
  hash: string;
  text: string;
}

/** Counters of one {@link CachedEmbedder}; they only go up. */
export interface EmbeddingStats {
  /** Calls to the embedder. */
  calls: number;
  /** Texts sent to the embedder. */
  texts: number;
  /** Distinct hashes answered from the cache. */
  cacheHits: number;
}

/** pino's `warn(obj, msg)`, the only logging the cache needs. */
export interface WarnLogger {
  warn(details: object, message: string): void;
}

export interface EmbedWithCacheOptions {
  stats?: EmbeddingStats;
  logger?: WarnLogger;
  /**
   * While Redis is away every call would warn: the same warning goes to the same logger at most
   * once per this many ms, with the number of repeats it stood for. @defaultValue 30000
   */
  warnEveryMs?: number;
}

/**
 * Returns one vector per item, in order. Items are deduplicated by hash; the cache answers what it
 * holds for `embedder.id`; the embedder is called once, for the misses only (none at all when
 * everything is cached), and the new vectors are written back.
 *
 * Redis is a cache only: when reading or writing it fails, the failure is logged as a warning
 * (throttled, see `warnEveryMs`) and the texts are embedded as if nothing were cached; it never
 * fails the record. A cached value of
 * the wrong size (another model under the same id, a truncated write) counts as a miss.
 * Errors of the embedder pass through unchanged (they are already classified).
 */
export async function embedWithCache(
  embedder: Embedder,
  cache: EmbeddingCache | undefined,
  items: HashedText[],
  options: EmbedWithCacheOptions = {},
): Promise<Float32Array[]> {
  const stats = options.stats;
  const warn = (error: unknown, message: string): void => {
    if (options.logger) warnThrottled(options.logger, options.warnEveryMs ?? 30_000, { err: describeError(error), model: embedder.id }, message);
  };
  const texts = new Map<string, string>();
  for (const item of items) if (!texts.has(item.hash)) texts.set(item.hash, item.text);
  const hashes = [...texts.keys()];
  const vectors = new Map<string, Float32Array>();

  if (cache && hashes.length > 0) {
    try {
      const cached = await cache.getMany(embedder.id, hashes);
      cached.forEach((vector, i) => {
        if (vector && vector.length === embedder.dimension) vectors.set(hashes[i]!, vector);
      });
      if (stats) stats.cacheHits += vectors.size;
    } catch (error) {
      warn(error, 'embedding cache unavailable: reading failed, embedding every text');
    }
  }

  const misses = hashes.filter((h) => !vectors.has(h));
  if (misses.length > 0) {
    const fresh = await embedder.embed(misses.map((h) => texts.get(h)!));
    if (stats) {
      stats.calls += 1;
      stats.texts += misses.length;
    }
    if (fresh.length !== misses.length) {
      throw new SystemError(`embedder ${embedder.id} returned ${fresh.length} vectors for ${misses.length} texts`, { code: 'embedder_bad_response' });
    }
    misses.forEach((h, i) => vectors.set(h, fresh[i]!));
    if (cache) {
      try {
        await cache.setMany(embedder.id, misses.map((hash, i) => ({ hash, vector: fresh[i]! })));
      } catch (error) {
        warn(error, 'embedding cache unavailable: writing failed, vectors not cached');
      }
    }
  }
  return items.map((item) => vectors.get(item.hash)!);
}

/**
 * An embedder with its cache and counters: what the embed stage holds. Tests read `stats` to
 * prove that editing one paragraph re-embeds exactly one chunk.

 */
export class CachedEmbedder {
  readonly stats: EmbeddingStats = { calls: 0, texts: 0, cacheHits: 0 };
  private readonly inFlight = new Map<string, Promise<Float32Array>>();

  constructor(
    readonly embedder: Embedder,
    readonly cache: EmbeddingCache | undefined,
    private readonly logger?: WarnLogger,
    private readonly warnEveryMs?: number,
  ) {}

  /**
   * See {@link embedWithCache}. Besides, a hash that a concurrent call is embedding right now is
   * awaited rather than embedded again (a text shared by many documents, such as a shipping
   * note, during a cold resync); it counts as a cache hit.
   */
  async embed(items: HashedText[]): Promise<Float32Array[]> {
    const { byHash, joined } = await embedJoiningInFlight(this.inFlight, items, (own) =>
      embedWithCache(this.embedder, this.cache, own, { stats: this.stats, logger: this.logger, warnEveryMs: this.warnEveryMs }),
    );
    this.stats.cacheHits += joined;
    return items.map((item) => byHash.get(item.hash)!);
  }
}

/**
 * Embeds each distinct hash of `items` once with `embed`, except the hashes another call is
 * embedding right now (they are in `inFlight`): those are awaited instead of embedded again. While
 * `embed` runs, its hashes are in `inFlight` for the calls that come meanwhile; they leave it when
 * it settles, failed or not. Returns a vector per hash, and how many hashes were joined.
 */
export async function embedJoiningInFlight<T extends HashedText>(
  inFlight: Map<string, Promise<Float32Array>>,
  items: readonly T[],
  embed: (own: T[]) => Promise<Float32Array[]>,
): Promise<{ byHash: Map<string, Float32Array>; joined: number }> {
  const own: T[] = [];
  const shared = new Map<string, Promise<Float32Array>>();
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.hash)) continue;
    seen.add(item.hash);
    const pending = inFlight.get(item.hash);
    if (pending) shared.set(item.hash, pending);
    else own.push(item);
  }
  const work = own.length > 0 ? embed(own) : Promise.resolve([]);
  const mine = own.map((item, i) => {
    const promise = work.then((vectors) => vectors[i]!);
    promise.catch(() => undefined); // awaited by this caller through `work`; the calls that joined await it themselves
    inFlight.set(item.hash, promise);
    return promise;
  });
  const forget = (): void => own.forEach((item, i) => inFlight.get(item.hash) === mine[i] && inFlight.delete(item.hash));
  work.then(forget, forget);

  const byHash = new Map<string, Float32Array>();
  (await work).forEach((vector, i) => byHash.set(own[i]!.hash, vector));
  for (const [hash, promise] of shared) byHash.set(hash, await promise);
  return { byHash, joined: shared.size };
}

/** When each message last went to each logger, and how often it was held back since. */
const lastWarnings = new WeakMap<WarnLogger, Map<string, { at: number; repeats: number }>>();

function warnThrottled(logger: WarnLogger, everyMs: number, details: object, message: string): void {
  let last = lastWarnings.get(logger);
  if (!last) lastWarnings.set(logger, (last = new Map()));
  const seen = last.get(message);
  const now = Date.now();
  if (seen && now - seen.at < everyMs) {
    seen.repeats += 1;
    return;
  }
  last.set(message, { at: now, repeats: 0 });
  logger.warn(seen?.repeats ? { ...details, repeats: seen.repeats } : details, message);
}
