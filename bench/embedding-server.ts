/**
 * The shared embedding endpoint of a bench run: OpenAI-compatible `POST /v1/embeddings`, serving the
 * project's own embedders by model name (`hashing`: the hashing embedder; `minilm`: the local
 * all-MiniLM-L6-v2 ONNX model), counting calls and texts per model. ragsync, the seed baseline and
 * the Pathway peer all embed through it, so each pays the same cost per text and their calls can be
 * compared.
 */
import { resolve } from 'node:path';
import Fastify from 'fastify';
import { HashingEmbedder } from '../src/embedders/hashing.js';
import type { Embedder } from '../src/embedders/embedder.js';
import { LOCAL_MODELS } from '../src/embedders/model-files.js';
import { OnnxEmbedder } from '../src/embedders/onnx.js';
import { PROJECT_ROOT } from '../src/stack/layout.js';

export type EndpointModel = 'hashing' | 'minilm';
export const ENDPOINT_MODELS: readonly EndpointModel[] = ['hashing', 'minilm'];

export interface EmbeddingCounts {
  calls: number;
  texts: number;
  /** Characters of the texts embedded (their mean says how long the texts were). */
  chars: number;
  /**
   * Seconds spent computing vectors, summed over calls (not waiting in the queue, not HTTP):
   * calls that overlap are counted once each.
   */
  busySeconds: number;
  /** Seconds during which at least one call was computing: the union of the calls' times. */
  activeSeconds: number;
  /** When the first call since the last reset started and the last one ended (`performance.now()`, seconds). */
  firstStarted?: number;
  lastEnded?: number;
}

export interface EmbeddingServer {
  /** The `/v1` base, as EMBEDDING_URL takes it. */
  url: string;
  counts(model: EndpointModel): EmbeddingCounts;
  /**
   * Counts of one client since the last reset: requests with `x-bench-client: <name>` (the Pathway
   * peer sends `pathway`); requests without the header count as `ragsync`.
   */
  clientCounts(client: string): EmbeddingCounts;
  /**
   * The texts a model was asked to embed since the last reset, in order of arrival (at most the
   * first 10,000), so a scenario can time the model on exactly the texts its run sent.
   */
  texts(model: EndpointModel): string[];
  /** Counts since the last reset, then zero. */
  reset(): Record<EndpointModel, EmbeddingCounts>;
  /** The embedder behind a model name (loaded on first use). */
  embedder(model: EndpointModel): Promise<Embedder>;
  close(): Promise<void>;
}

const zero = (): EmbeddingCounts => ({ calls: 0, texts: 0, chars: 0, busySeconds: 0, activeSeconds: 0 });

export async function startEmbeddingServer(options: { port?: number } = {}): Promise<EmbeddingServer> {
  const loaded = new Map<EndpointModel, Promise<Embedder>>();
  const load = (model: EndpointModel): Promise<Embedder> => {
    let embedder = loaded.get(model);
    if (!embedder) {
      embedder = model === 'hashing' ? Promise.resolve(new HashingEmbedder()) : OnnxEmbedder.load({ modelDir: resolve(PROJECT_ROOT, 'models', LOCAL_MODELS.minilm.folder) });
      loaded.set(model, embedder);
    }
    return embedder;
  };
  let counts: Record<EndpointModel, EmbeddingCounts> = { hashing: zero(), minilm: zero() };
  // Calls computing now, per model, and since when at least one has been (for activeSeconds).
  const inFlight: Record<EndpointModel, { calls: number; since: number }> = { hashing: { calls: 0, since: 0 }, minilm: { calls: 0, since: 0 } };
  let byClient = new Map<string, EmbeddingCounts>();
  let received: Record<EndpointModel, string[]> = { hashing: [], minilm: [] };
  const KEEP_TEXTS = 10_000;

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  app.post('/v1/embeddings', async (request, reply) => {
    const body = request.body as { model?: unknown; input?: unknown };
    const model = body.model as EndpointModel;
    if (!ENDPOINT_MODELS.includes(model)) return reply.code(404).send({ error: { message: `unknown model ${String(body.model)}: expected ${ENDPOINT_MODELS.join(' or ')}`, code: 'model_not_found' } });
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(input) || input.some((t) => typeof t !== 'string')) return reply.code(400).send({ error: { message: 'input must be a string or an array of strings' } });
    const embedder = await load(model);
    const started = performance.now();
    const flight = inFlight[model];
    if (flight.calls++ === 0) flight.since = started;
    let vectors: Float32Array[];
    try {
      vectors = await embedder.embed(input as string[]);
    } finally {
      if (--flight.calls === 0) counts[model].activeSeconds += (performance.now() - flight.since) / 1000;
    }
    const ended = performance.now();
    const c = counts[model];
    c.calls += 1;
    c.texts += input.length;
    c.chars += (input as string[]).reduce((sum, text) => sum + text.length, 0);
    c.busySeconds += (ended - started) / 1000;
    c.firstStarted = Math.min(c.firstStarted ?? Infinity, started / 1000);
    c.lastEnded = Math.max(c.lastEnded ?? 0, ended / 1000);
    const kept = received[model];
    for (const text of input as string[]) if (kept.length < KEEP_TEXTS) kept.push(text);
    const clientName = String(request.headers['x-bench-client'] ?? 'ragsync');
    const client = byClient.get(clientName) ?? zero();
    client.calls += 1;
    client.texts += input.length;
    byClient.set(clientName, client);
    return { object: 'list', model, data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: Array.from(v) })), usage: { prompt_tokens: 0, total_tokens: 0 } };
  });
  const address = await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  return {
    url: `${address}/v1`,
    counts: (model) => ({ ...counts[model] }),
    clientCounts: (client) => ({ ...(byClient.get(client) ?? zero()) }),
    texts: (model) => [...received[model]],
    reset() {
      const before = counts;
      counts = { hashing: zero(), minilm: zero() };
      byClient = new Map();
      received = { hashing: [], minilm: [] };
      return before;
    },
    embedder: load,
    async close() {
      await app.close();
      for (const embedder of loaded.values()) await (await embedder).close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startEmbeddingServer({ port: Number(process.env.PORT ?? 0) });
  console.log(server.url);
}
