import { afterEach, describe, expect, it, vi } from 'vitest';
import { PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { MicroBatcher } from '../../../src/embedders/batcher.js';
import type { Embedder } from '../../../src/embedders/embedder.js';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { OpenAiEmbedder } from '../../../src/embedders/openai.js';
import { EmbeddingsServer } from './openai-server.js';
import { RecordingEmbedder } from './recording-embedder.js';

const plain = new HashingEmbedder();
const expected = (texts: string[]): number[][] => texts.map((t) => Array.from(plain.embedOne(t)));
const asArrays = (vectors: Float32Array[]): number[][] => vectors.map((v) => Array.from(v));

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe('the micro-batcher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('when callers arrive within batchWaitMs', () => {
    it('makes one embedder call after batchWaitMs and gives each caller its own vectors', async () => {
      vi.useFakeTimers();
      const inner = new RecordingEmbedder();
      const batcher = new MicroBatcher(inner, { batchSize: 10, batchWaitMs: 20 });
      const first = batcher.embed(['red scarf']);
      const second = batcher.embed(['blue shirt', 'green socks']);
      await vi.advanceTimersByTimeAsync(19);
      expect(inner.calls).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(inner.calls).toEqual([['red scarf', 'blue shirt', 'green socks']]);
      expect(asArrays(await first)).toEqual(expected(['red scarf']));
      expect(asArrays(await second)).toEqual(expected(['blue shirt', 'green socks']));
    });
  });

  describe('when batchSize texts are waiting', () => {
    it('sends them at once without waiting for the timer', async () => {
      vi.useFakeTimers();
      const inner = new RecordingEmbedder();
      const batcher = new MicroBatcher(inner, { batchSize: 3, batchWaitMs: 60_000 });
      const results = Promise.all([batcher.embed(['a']), batcher.embed(['b', 'c'])]);
      expect(inner.calls).toEqual([['a', 'b', 'c']]);
      expect((await results).flat()).toHaveLength(3);
    });

    it('never splits a caller and sends the remainder as the next batch', async () => {
      const inner = new RecordingEmbedder();
      const batcher = new MicroBatcher(inner, { batchSize: 3, batchWaitMs: 5 });
      const results = await Promise.all([batcher.embed(['a', 'b']), batcher.embed(['c', 'd']), batcher.embed(['e', 'f', 'g', 'h'])]);
      expect(inner.calls).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f', 'g', 'h']]);
      expect(asArrays(results[2]!)).toEqual(expected(['e', 'f', 'g', 'h']));
    });
  });

  describe('when a batch is in flight', () => {
    it('gathers later callers into the next batch', async () => {
      const inner = new RecordingEmbedder();
      const batcher = new MicroBatcher(inner, { batchSize: 2, batchWaitMs: 1 });
      const all = Promise.all(['a', 'b', 'c', 'd', 'e'].map((t) => batcher.embed([t])));
      await all;
      expect(inner.calls).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    });
  });

  describe('when the embedder fails', () => {
    let server: EmbeddingsServer | undefined;
    afterEach(async () => {
      expect(server?.violations ?? []).toEqual([]);
      await server?.close();
      server = undefined;
    });

    it('rejects every caller of the batch with the same retryable error', async () => {
      server = await EmbeddingsServer.start();
      server.script = () => ({ status: 503, headers: { 'retry-after': '2' } });
      const batcher = new MicroBatcher(new OpenAiEmbedder({ url: server.url, model: 'm' }), { batchSize: 10, batchWaitMs: 5 });
      const [first, second] = await Promise.all([settle(batcher.embed(['a'])), settle(batcher.embed(['b']))]);
      expect(first.error).toBeInstanceOf(RetryableError);
      expect(second.error).toBe(first.error);
      expect((first.error as RetryableError).retryAfterMs).toBe(2000);
      expect(server.requests).toHaveLength(1);
    });

    it('rejects only the caller whose text the endpoint refused', async () => {
      server = await EmbeddingsServer.start();
      server.script = (request) =>
        request.input.some((t) => t.includes('TOO LONG')) ? { status: 400, body: { error: { message: 'input too long', param: 'input' } } } : undefined;
      // A wait long enough that the three callers, queued in one tick, share a batch even when a
      // busy machine pauses between them.
      const batcher = new MicroBatcher(new OpenAiEmbedder({ url: server.url, model: 'm' }), { batchSize: 10, batchWaitMs: 200 });
      const [ok1, bad, ok2] = await Promise.all([settle(batcher.embed(['fine one'])), settle(batcher.embed(['TOO LONG'])), settle(batcher.embed(['fine two']))]);
      expect(bad.error).toBeInstanceOf(PermanentError);
      expect(ok1.value).toHaveLength(1);
      expect(ok2.value).toHaveLength(1);
      expect(server.requests.map((r) => r.input)).toEqual([['fine one', 'TOO LONG', 'fine two'], ['fine one'], ['TOO LONG'], ['fine two']]);
    });
  });

  describe('when it is closed', () => {
    it('sends what is waiting at once, closes the inner embedder and refuses new texts', async () => {
      const inner = new RecordingEmbedder();
      const batcher = new MicroBatcher(inner, { batchSize: 100, batchWaitMs: 60_000 });
      const pending = batcher.embed(['last words']);
      await batcher.close();
      expect(asArrays(await pending)).toEqual(expected(['last words']));
      expect(inner.closed).toBe(true);
      await expect(batcher.embed(['late'])).rejects.toBeInstanceOf(SystemError);
    });
  });

  it('passes the inner embedder identity through', () => {
    const inner: Embedder = new HashingEmbedder({ dimension: 32 });
    const batcher = new MicroBatcher(inner, { batchSize: 1, batchWaitMs: 0 });
    expect(batcher).toMatchObject({ id: 'hashing-v1-32', dimension: 32, distance: 'Cosine', kind: 'lexical' });
    expect(batcher.tokenizer).toBe(inner.tokenizer);
  });
});
