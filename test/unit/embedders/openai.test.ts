import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, PermanentError, RetryableError, SystemError } from '../../../src/core/errors.js';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { OpenAiEmbedder } from '../../../src/embedders/openai.js';
import { EmbeddingsServer } from './openai-server.js';

const KEY = 'sk-test-5f2c9a0e7b1d4c3a8e6f';

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('the OpenAI-compatible embedder', () => {
  let server: EmbeddingsServer;

  beforeEach(async () => {
    server = await EmbeddingsServer.start({ apiKey: KEY, dimension: 16 });
  });
  afterEach(async () => {
    expect(server.violations).toEqual([]);
    await server.close();
  });

  describe('when the endpoint answers', () => {
    it('sends the documented request and returns the vectors in input order', async () => {
      const embedder = new OpenAiEmbedder({ url: server.url, model: 'text-embedding-3-small', apiKey: KEY });
      const texts = ['red wool scarf', 'blue cotton shirt', 'garden hose'];
      const vectors = await embedder.embed(texts);
      const expected = new HashingEmbedder({ dimension: 16 });
      expect(vectors.map((v) => Array.from(v))).toEqual(texts.map((t) => Array.from(expected.embedOne(t))));
      expect(server.requests).toEqual([{ model: 'text-embedding-3-small', input: texts, encoding_format: 'float' }]);
      expect(embedder.id).toBe('openai:text-embedding-3-small');
      expect(embedder.dimension).toBe(16);
    });

    it('sends at most batchSize texts per request', async () => {
      const embedder = new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY, batchSize: 2 });
      const vectors = await embedder.embed(['a', 'b', 'c', 'd', 'e']);
      expect(vectors).toHaveLength(5);
      expect(server.requests.map((r) => r.input)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    });

    it('asks for the configured dimensions and names them in its id', async () => {
      const embedder = new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY, dimensions: 8 });
      const [vector] = await embedder.embed(['short text']);
      expect(server.requests[0]?.dimensions).toBe(8);
      expect(vector).toHaveLength(8);
      expect(embedder.id).toBe('openai:m@8');
    });

    it('learns the vector size from the first answer on connect', async () => {
      const embedder = new OpenAiEmbedder({ url: `${server.url}/`, model: 'm', apiKey: KEY });
      expect(() => embedder.dimension).toThrow(SystemError);
      await embedder.connect();
      expect(embedder.dimension).toBe(16);
    });

    it('sends no Authorization header when no key is configured', async () => {
      const open = await EmbeddingsServer.start();
      try {
        await new OpenAiEmbedder({ url: open.url, model: 'm' }).embed(['x']);
        expect(open.violations).toEqual([]);
        expect(open.requests).toHaveLength(1);
      } finally {
        await open.close();
      }
    });

    it('makes no request for no texts', async () => {
      expect(await new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed([])).toEqual([]);
      expect(server.requests).toEqual([]);
    });
  });

  describe('when the endpoint answers 429 with Retry-After', () => {
    it('throws a RetryableError carrying the wait in seconds', async () => {
      server.script = () => ({ status: 429, headers: { 'retry-after': '7' }, body: { error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } } });
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed(['x']));
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).retryAfterMs).toBe(7000);
      expect((error as RetryableError).code).toBe('embedder_rate_limited');
    });

    it('reads an HTTP date as the time to wait until', async () => {
      const at = new Date(Date.now() + 60_000).toUTCString();
      server.script = () => ({ status: 429, headers: { 'retry-after': at } });
      const error = (await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed(['x']))) as RetryableError;
      expect(error.retryAfterMs).toBeGreaterThan(55_000);
      expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
    });
  });

  describe('when the endpoint fails with 500', () => {
    it('throws a RetryableError naming the endpoint and the status', async () => {
      server.script = () => ({ status: 500, body: { error: { message: 'internal error' } } });
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed(['x']));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toContain(`${server.url}/embeddings answered 500`);
    });
  });

  describe('when the API key is wrong', () => {
    it('throws a SystemError that never contains the key', async () => {
      const wrong = `${KEY}-old`;
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: wrong }).embed(['x']));
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).code).toBe('embedder_unauthorized');
      expect(error.message).toContain('401');
      expect(error.message).not.toContain(wrong);
      expect(JSON.stringify(error)).not.toContain(wrong);
      expect(String(error.stack)).not.toContain(wrong);
    });
  });

  describe('when the model is unknown', () => {
    it('throws a SystemError', async () => {
      server.script = () => ({ status: 404, body: { error: { message: 'The model `nope` does not exist', code: 'model_not_found' } } });
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'nope', apiKey: KEY }).embed(['x']));
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).code).toBe('embedder_unknown_model');
    });
  });

  describe('when the endpoint refuses an input', () => {
    it('throws a PermanentError with the endpoint message', async () => {
      server.script = () => ({ status: 400, body: { error: { message: "This model's maximum context length is 8192 tokens", param: 'input', code: null } } });
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed(['x']));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain('maximum context length');
    });
  });

  describe('when the endpoint does not answer in time', () => {
    it('throws a RetryableError after timeoutMs', async () => {
      server.script = () => ({ status: 200, delayMs: 2000, body: {} });
      const started = Date.now();
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY, timeoutMs: 150 }).embed(['x']));
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).code).toBe('embedder_timeout');
      expect(Date.now() - started).toBeLessThan(1500);
    });
  });

  describe('when nothing listens at the URL', () => {
    it('throws a RetryableError', async () => {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as { port: number }).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const error = await failure(new OpenAiEmbedder({ url: `http://u:${KEY}@127.0.0.1:${port}/v1`, model: 'm', apiKey: KEY }).embed(['x']));
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).code).toBe('embedder_unreachable');
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.message).not.toContain(KEY);
    });
  });

  describe('when the answer breaks the format', () => {
    it('throws a SystemError for a wrong number of embeddings', async () => {
      server.script = () => ({ status: 200, body: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [1, 0] }] } });
      const error = await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed(['x', 'y']));
      expect(error).toBeInstanceOf(SystemError);
      expect(error.message).toContain('1 embeddings for 2 inputs');
    });

    it('throws a SystemError when the vector size changes', async () => {
      const embedder = new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY, dimensions: 16 });
      server.script = () => ({ status: 200, body: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [1, 0, 0] }] } });
      const error = await failure(embedder.embed(['x']));
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).code).toBe('embedder_wrong_dimension');
    });

    it('throws a SystemError for a body that is not JSON', async () => {
      server.script = () => ({ status: 200, body: '<html>proxy login</html>' });
      expect(await failure(new OpenAiEmbedder({ url: server.url, model: 'm', apiKey: KEY }).embed(['x']))).toBeInstanceOf(SystemError);
    });
  });

  describe('when the configuration is incomplete', () => {
    it('refuses a URL that is not one', () => {
      expect(() => new OpenAiEmbedder({ url: 'not a url', model: 'm' })).toThrow(ConfigError);
    });
    it('refuses a missing model name', () => {
      expect(() => new OpenAiEmbedder({ url: server.url, model: '' })).toThrow(/EMBEDDING_MODEL/);
    });
  });
});
