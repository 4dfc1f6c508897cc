import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';

/**
 * A loopback stand-in for an OpenAI-compatible embeddings endpoint. It checks every request
 * against the documented request format of `POST /v1/embeddings` and answers in the documented
 * response format, with vectors from the hashing embedder (so answers are real, deterministic
 * embeddings). A request that breaks the format is answered 400 and recorded in `violations`:
 * tests assert there are none.
 */
const requestSchema = z.strictObject({
  // Documented: string or array of strings (or token arrays); not empty; at most 2048 items.
  input: z.array(z.string().min(1)).min(1).max(2048),
  model: z.string().min(1),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});
export type EmbeddingsRequest = z.infer<typeof requestSchema>;

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Wait this long before answering (for timeouts). */
  delayMs?: number;
}

/** Decides the answer to a valid request; undefined means the normal embeddings answer. */
export type Script = (request: EmbeddingsRequest) => ScriptedAnswer | undefined;

export class EmbeddingsServer {
  readonly requests: EmbeddingsRequest[] = [];
  readonly violations: string[] = [];
  script: Script = () => undefined;
  /** Data items are answered in reverse index order, to prove clients sort by `index`. */
  private readonly embedders = new Map<number, HashingEmbedder>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: { apiKey?: string; dimension: number },
  ) {}

  static async start(options: { apiKey?: string; dimension?: number } = {}): Promise<EmbeddingsServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const instance = new EmbeddingsServer(server, `http://127.0.0.1:${port}/v1`, { apiKey: options.apiKey, dimension: options.dimension ?? 16 });
    server.on('request', (req, res) => void instance.handle(req, res));
    return instance;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const problem = this.check(req, raw);
    if (problem) {
      this.violations.push(problem);
      return send(res, { status: 400, body: { error: { message: problem, type: 'invalid_request_error', param: null, code: null } } });
    }
    if (this.options.apiKey && req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      // Echoes what it got, as some servers do: a client must keep it out of its messages.
      const got = req.headers.authorization ?? '';
      return send(res, { status: 401, body: { error: { message: `Incorrect API key provided: ${got}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    }
    const request = JSON.parse(raw) as EmbeddingsRequest;
    this.requests.push(request);
    const answer = this.script(request) ?? this.embeddings(request);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (!res.destroyed) send(res, answer);
  }

  private check(req: IncomingMessage, raw: string): string | undefined {
    if (req.method !== 'POST') return `method ${req.method}, expected POST`;
    if (req.url !== '/v1/embeddings') return `path ${req.url}, expected /v1/embeddings`;
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return `content-type ${req.headers['content-type']}`;
    if (!this.options.apiKey && req.headers.authorization !== undefined) return 'an Authorization header although no key is configured';
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return 'body is not JSON';
    }
    const parsed = requestSchema.safeParse(json);
    if (!parsed.success) return `body: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`;
    return undefined;
  }

  private embeddings(request: EmbeddingsRequest): ScriptedAnswer {
    const dimension = request.dimensions ?? this.options.dimension;
    let embedder = this.embedders.get(dimension);
    if (!embedder) this.embedders.set(dimension, (embedder = new HashingEmbedder({ dimension })));
    const data = request.input.map((text, index) => ({ object: 'embedding', index, embedding: Array.from(embedder.embedOne(text)) }));
    const tokens = request.input.reduce((n, t) => n + t.split(/\s+/).length, 0);
    return {
      status: 200,
      body: { object: 'list', data: data.reverse(), model: request.model, usage: { prompt_tokens: tokens, total_tokens: tokens } },
    };
  }
}

function send(res: ServerResponse, answer: ScriptedAnswer): void {
  const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
  res.end(body);
}
