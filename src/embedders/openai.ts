import { z } from 'zod';
import { ConfigError, SystemError } from '../core/errors.js';
import type { Embedder } from './embedder.js';
import { classifyFetchFailure, classifyHttpStatus, type ApiErrorBody, type HttpContext } from './http-errors.js';

export interface OpenAiEmbedderOptions {
  /** The `/v1` base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1` (Ollama). */
  url: string;
  model: string;
  /** Sent as `Authorization: Bearer …` when set; never appears in a message. */
  apiKey?: string;
  /** Requested vector size (`dimensions`); otherwise the model's own, learnt from the first answer. */
  dimensions?: number;
  /** @defaultValue 64 texts per request */
  batchSize?: number;
  /** Deadline of one request, body included. @defaultValue 30000 */
  timeoutMs?: number;
}

const responseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) })),
});

/**
 * An OpenAI-compatible embeddings endpoint (OpenAI, Azure-style gateways, Ollama, vLLM, LiteLLM,
 * text-embeddings-inference): `POST {url}/embeddings` with `{ model, input, encoding_format:
 * 'float', dimensions? }`. Texts go in requests of `batchSize`, one after another; the answer's
 * `data[]` is put back in input order by `index`.
 *
 * Errors follow {@link Embedder}: outage → RetryableError (with Retry-After), 401/403 and unknown
 * model → SystemError, a 4xx about the input → PermanentError; an answer that breaks the format
 * (wrong count, wrong size) → SystemError.
 *
 * Without `dimensions` the size is unknown until the first answer: call {@link connect} (the
 * factory does) before reading `dimension`.
 */
export class OpenAiEmbedder implements Embedder {
  readonly id: string;
  readonly distance = 'Cosine' as const;
  readonly kind = 'semantic' as const;
  private knownDimension: number | undefined;
  /** `POST` target, without any credentials the configured URL held. */
  readonly endpoint: string;
  private readonly context: HttpContext;
  private readonly batchSize: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: OpenAiEmbedderOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new ConfigError('EMBEDDING_URL (embedder.url): not a URL');
    }
    if (!options.model) throw new ConfigError('EMBEDDING_MODEL (embedder.model): required with EMBEDDING_URL');
    // Credentials in the URL would otherwise show up in every message.
    base.username = '';
    base.password = '';
    this.endpoint = `${base.href.replace(/\/+$/, '')}/embeddings`;
    const key = options.apiKey;
    this.context = {
      what: `embedding endpoint ${this.endpoint}`,
      redact: (text) => (key ? text.split(key).join('***') : text),
    };
    this.batchSize = options.batchSize ?? 64;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.knownDimension = options.dimensions;
    this.id = `openai:${options.model}${options.dimensions ? `@${options.dimensions}` : ''}`;
  }

  get dimension(): number {
    if (this.knownDimension === undefined) {
      throw new SystemError(`${this.context.what}: the vector size of ${this.options.model} is not known before connect()`, { code: 'embedder_not_connected' });
    }
    return this.knownDimension;
  }

  /** Learns the vector size with one small request when it was not configured. */
  async connect(): Promise<void> {
    if (this.knownDimension === undefined) await this.embed(['dimension probe']);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      out.push(...(await this.request(texts.slice(start, start + this.batchSize))));
    }
    return out;
  }

  async close(): Promise<void> {}

  private async request(input: string[]): Promise<Float32Array[]> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const body: Record<string, unknown> = { model: this.options.model, input, encoding_format: 'float' };
    if (this.options.dimensions) body.dimensions = this.options.dimensions;

    let response: Response;
    let text: string;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw classifyFetchFailure(error, this.timeoutMs, this.context);
    }
    const json = parseJson(text);
    if (!response.ok) {
      const apiError = (json as { error?: ApiErrorBody | string } | undefined)?.error;
      const errorBody = typeof apiError === 'string' ? { message: apiError } : apiError;
      throw classifyHttpStatus(response.status, response.headers, errorBody, this.context);
    }
    return this.readVectors(json, input.length);
  }

  private readVectors(json: unknown, expected: number): Float32Array[] {
    const bad = (why: string): SystemError =>
      new SystemError(`${this.context.what} answered in an unexpected format: ${why}`, { code: 'embedder_bad_response' });
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) throw bad('no data[].index and data[].embedding');
    const data = parsed.data.data;
    if (data.length !== expected) throw bad(`${data.length} embeddings for ${expected} inputs`);
    const vectors = new Array<Float32Array | undefined>(expected);
    for (const item of data) {
      if (item.index >= expected || vectors[item.index]) throw bad(`index ${item.index} out of range or repeated`);
      vectors[item.index] = Float32Array.from(item.embedding);
    }
    const size = this.knownDimension ?? data[0]?.embedding.length ?? 0;
    if (size === 0) throw bad('empty embedding');
    for (const vector of vectors as Float32Array[]) {
      if (vector.length !== size) {
        throw new SystemError(`${this.context.what} returned vectors of ${vector.length} values, expected ${size}`, { code: 'embedder_wrong_dimension' });
      }
    }
    this.knownDimension = size;
    return vectors as Float32Array[];
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
