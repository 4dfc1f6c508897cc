import { PermanentError, SystemError, findRagsyncError } from '../core/errors.js';
import type { Embedder, EmbedderTokenizer } from './embedder.js';

export interface MicroBatcherOptions {
  /** A batch is sent as soon as it holds this many texts (`config.embedder.batchSize`). */
  batchSize: number;
  /** …or when its oldest text has waited this long (`config.embedder.batchWaitMs`). */
  batchWaitMs: number;
  /** Batches in flight at once; more arrive and wait meanwhile. @defaultValue 1 */
  maxConcurrent?: number;
}

interface Waiting {
  texts: string[];
  since: number;
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects texts from concurrent callers (records of different partitions, say) into one embedder
 * call of up to `batchSize` texts, or whatever arrived within `batchWaitMs`, and hands each caller
 * its own vectors. A caller's texts are never split across batches; a caller with more than
 * `batchSize` texts makes a batch of its own.
 *
 * Errors: a retryable or system error rejects every caller of the batch with that same error.
 * A permanent error (the endpoint refused an input) is about one caller's texts, so the batch's
 * callers are then tried one by one, and only the caller whose texts were refused gets it.
 *
 * It is an {@link Embedder} itself and owns the one it wraps: `close()` sends what is waiting,
 * waits for it, then closes the inner embedder.
 */
export class MicroBatcher implements Embedder {
  private waiting: Waiting[] = [];
  private waitingTexts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  private readonly maxConcurrent: number;

  get queryPrefix(): string | undefined {
    return this.inner.queryPrefix;
  }

  constructor(
    readonly inner: Embedder,
    private readonly options: MicroBatcherOptions,
  ) {
    this.maxConcurrent = options.maxConcurrent ?? 1;
  }

  get id(): string {
    return this.inner.id;
  }
  get dimension(): number {
    return this.inner.dimension;
  }
  get distance(): Embedder['distance'] {
    return this.inner.distance;
  }
  get kind(): Embedder['kind'] {
    return this.inner.kind;
  }
  get tokenizer(): EmbedderTokenizer | undefined {
    return this.inner.tokenizer;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closing) return Promise.reject(new SystemError(`embedder ${this.id} is closing`, { code: 'embedder_closed' }));
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ texts, since: Date.now(), resolve, reject });
      this.waitingTexts += texts.length;
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pump();
    while (this.inFlight.size > 0 || this.waiting.length > 0) {
      await Promise.all(this.inFlight);
      this.pump();
    }
    await this.inner.close();
  }

  /** Sends every batch that is full or due, as far as `maxConcurrent` allows; arms the timer otherwise. */
  private pump(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.waiting.length > 0 && this.inFlight.size < this.maxConcurrent) {
      const waited = Date.now() - this.waiting[0]!.since;
      if (!this.closing && this.waitingTexts < this.options.batchSize && waited < this.options.batchWaitMs) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.options.batchWaitMs - waited);
        return;
      }
      this.send(this.take());
    }
  }

  /** The oldest callers whose texts fit in one batch (at least one caller). */
  private take(): Waiting[] {
    const batch: Waiting[] = [];
    let size = 0;
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      if (batch.length > 0 && size + next.texts.length > this.options.batchSize) break;
      batch.push(this.waiting.shift()!);
      size += next.texts.length;
    }
    this.waitingTexts -= size;
    return batch;
  }

  private send(batch: Waiting[]): void {
    const done = this.run(batch).finally(() => {
      this.inFlight.delete(done);
      this.pump();
    });
    this.inFlight.add(done);
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      const vectors = await this.call(batch.flatMap((w) => w.texts));
      let offset = 0;
      for (const w of batch) {
        w.resolve(vectors.slice(offset, offset + w.texts.length));
        offset += w.texts.length;
      }
    } catch (error) {
      if (batch.length > 1 && findRagsyncError(error) instanceof PermanentError) {
        for (const w of batch) await this.call(w.texts).then(w.resolve, w.reject);
      } else {
        for (const w of batch) w.reject(error);
      }
    }
  }

  private async call(texts: string[]): Promise<Float32Array[]> {
    const vectors = await this.inner.embed(texts);
    if (vectors.length !== texts.length) {
      throw new SystemError(`embedder ${this.id} returned ${vectors.length} vectors for ${texts.length} texts`, { code: 'embedder_bad_response' });
    }
    return vectors;
  }
}
