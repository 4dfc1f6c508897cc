import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadQdrantApiSchema, type OperationSchemas, type ImplementedOperation } from './api-schema.js';
import { EdgeProcess } from './edge-process.js';
import { Engine, QdrantHttpError } from './engine.js';
import { HANDLERS } from './handlers.js';
import { createValidators, type Validators } from './validator.js';

/**
 * A Qdrant REST server on 127.0.0.1 for tests (no Qdrant server can be installed here), over
 * Qdrant's own engine embedded as edge shards (engine.ts). Every request is checked against
 * Qdrant's published API — route, path and query parameters, body — and so is every response the
 * server sends. Anything outside the API, or inside it but not something the edge shard can do,
 * is answered like Qdrant answers an error AND recorded in `violations`: tests assert the list is
 * empty, so a store that sends something real Qdrant would reject cannot pass.
 *
 * Expected errors (401 for a wrong API key, 404 for a missing collection, 400 for a wrong vector
 * size) are real behaviour, not violations. So are the faults a test sets with `setFault` (503,
 * 429 with Retry-After, a 400 about one point, a delay): they are answered after the request has
 * been checked, in Qdrant's error shape, and every request keeps its arrival time for tests that
 * check when calls were made.
 */
export interface RecordedRequest {
  operationId: string;
  path: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  /** Epoch ms when it arrived. */
  at: number;
  /** The fault it was answered with (`503`, `429`, `400`, `delay`), if any. */
  fault?: string;
}

/**
 * What a faulty server answers instead of doing the work, in Qdrant's error shape: 503, 429 with
 * `Retry-After` (and Qdrant's "Retry after Ns" in the reason), a 400 with the given reason (Qdrant
 * refusing a batch because of one of its points), or the real answer after a delay.
 */
export type FaultAnswer =
  | { status: 503 }
  /** `asDate`: the header names the time to come back (an HTTP date) instead of seconds. */
  | { status: 429; retryAfterSeconds: number; asDate?: boolean }
  | { status: 400; reason: string }
  | { delayMs: number };

export interface Fault {
  answer: FaultAnswer;
  /** Only requests of these operations (e.g. `batch_update`); every operation when unset. */
  operations?: string[];
  /** Only requests whose body holds this text (a point id, a payload value). */
  containing?: string;
  /** The share of matching requests that get the fault, drawn at random. @defaultValue 1 */
  probability?: number;
  /** How many requests get the fault at most; afterwards the server answers normally. @defaultValue unlimited */
  times?: number;
}

export interface QdrantTestServer {
  url: string;
  violations: string[];
  /** Every request that matched an implemented operation, in arrival order. */
  requests: RecordedRequest[];
  /** The collections, for tests that look behind the API (and drop collections they are done with). */
  engine: Engine;
  /**
   * Makes the server faulty (or healthy again with `undefined`). Requests are still checked against
   * the API first: a request real Qdrant would reject is a violation whatever the fault.
   */
  setFault(fault: Fault | undefined): void;
  /** Requests received while faulty since a fault was last set (clearing it keeps the count), answered with it or not. */
  readonly faultyCalls: number;
  close(): Promise<void>;
}

export interface QdrantTestServerOptions {
  /** When set, requests must carry it as `api-key` or `Authorization: Bearer`. */
  apiKey?: string;
}

interface CompiledRoute {
  route: OperationSchemas;
  pattern: RegExp;
  names: string[];
}

function compile(route: OperationSchemas): CompiledRoute {
  const names: string[] = [];
  const source = route.template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function faultApplies(fault: Fault, given: number, operationId: string, text: string): boolean {
  if (fault.times !== undefined && given >= fault.times) return false;
  if (fault.operations !== undefined && !fault.operations.includes(operationId)) return false;
  if (fault.containing !== undefined && !text.includes(fault.containing)) return false;
  return Math.random() < (fault.probability ?? 1);
}

export async function startQdrantServer(options: QdrantTestServerOptions = {}): Promise<QdrantTestServer> {
  const schema = await loadQdrantApiSchema();
  const validators: Validators = createValidators(schema);
  const routes = schema.routes.map(compile);
  const shards = await EdgeProcess.start();
  const engine = new Engine(shards);
  const violations: string[] = [];
  const requests: RecordedRequest[] = [];
  let fault: Fault | undefined;
  let faultyCalls = 0;
  let faultsGiven = 0;

  const fail = (response: ServerResponse, status: number, message: string, violation?: string, headers?: Record<string, string>) => {
    if (violation !== undefined) violations.push(violation);
    const body = { status: { error: message }, time: 0 };
    const problem = validators.errorResponse(body);
    if (problem !== undefined) violations.push(`error response does not match the API: ${problem}`);
    send(response, status, body, headers);
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = request.method ?? 'GET';
    const what = `${method} ${url.pathname}`;
    const text = await readBody(request);
    if (options.apiKey !== undefined) {
      const bearer = request.headers.authorization?.replace(/^Bearer /, '');
      if (request.headers['api-key'] !== options.apiKey && bearer !== options.apiKey) {
        return fail(response, 401, 'Must provide an API key or an Authorization bearer token');
      }
    }
    const matched = routes
      .filter((candidate) => candidate.route.method === method)
      .map((candidate) => ({ candidate, match: candidate.pattern.exec(url.pathname) }))
      .find((entry) => entry.match !== null);
    if (matched === undefined) return fail(response, 404, `no route ${what}`, `${what} is not in Qdrant's API`);
    const { route } = matched.candidate;
    const handler = HANDLERS[route.operationId as ImplementedOperation] as (typeof HANDLERS)[ImplementedOperation] | undefined;
    if (handler === undefined) return fail(response, 404, `${route.operationId} is not implemented`, `${what} (${route.operationId}) is not implemented by the test server`);

    const path = Object.fromEntries(matched.candidate.names.map((name, i) => [name, decodeURIComponent(matched.match![i + 1]!)]));
    const query: Record<string, unknown> = Object.fromEntries(url.searchParams.entries());
    let body: unknown = undefined;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        return fail(response, 400, 'Format error in JSON body', `${what}: body is not JSON`);
      }
    }
    const recorded: RecordedRequest = { operationId: route.operationId, path, query: { ...query }, body, at: Date.now() };
    requests.push(recorded);
    const active = fault;
    if (active !== undefined) faultyCalls += 1;
    const problems = validators.request(route, { path, query, body });
    if (problems.length > 0) {
      return fail(response, 400, `Format error in JSON body: ${problems.join('; ')}`, `${what} (${route.operationId}): ${problems.join('; ')}`);
    }
    if (active !== undefined && faultApplies(active, faultsGiven, route.operationId, text)) {
      faultsGiven += 1;
      const { answer } = active;
      if ('delayMs' in answer) {
        recorded.fault = 'delay';
        await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
      } else if (answer.status === 503) {
        recorded.fault = '503';
        return fail(response, 503, 'Service Unavailable: the node is overloaded');
      } else if (answer.status === 429) {
        recorded.fault = '429';
        const seconds = answer.retryAfterSeconds;
        const reason = `Rate limiting exceeded: Write rate limit exceeded: Operation requires 1 tokens but only 0.0 were available. Retry after ${seconds}s`;
        const header = answer.asDate ? new Date(Date.now() + seconds * 1000).toUTCString() : String(seconds);
        return fail(response, 429, reason, undefined, { 'retry-after': header });
      } else {
        recorded.fault = '400';
        return fail(response, 400, answer.reason);
      }
    }
    const started = performance.now();
    try {
      const result = await handler(engine, { path, query, body: (body ?? {}) as Record<string, unknown> });
      const envelope = { result, status: 'ok', time: (performance.now() - started) / 1000 };
      const problem = validators.response(route, envelope);
      if (problem !== undefined) violations.push(`${what} (${route.operationId}): response does not match the API: ${problem}`);
      send(response, 200, envelope);
    } catch (error) {
      if (error instanceof QdrantHttpError) {
        return fail(response, error.status, error.message, error.kind === 'rejected' ? undefined : `${what}: ${error.message}`);
      }
      violations.push(`${what}: test server crashed: ${String(error)}`);
      return fail(response, 500, `Service internal error: ${String(error)}`);
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      violations.push(`test server failed: ${String(error)}`);
      if (!response.headersSent) send(response, 500, { status: { error: String(error) }, time: 0 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    violations,
    requests,
    engine,
    setFault(next) {
      fault = next;
      faultsGiven = 0;
      if (next !== undefined) faultyCalls = 0;
    },
    get faultyCalls() {
      return faultyCalls;
    },
    close: async () => {
      await new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
      await shards.close();
    },
  };
}
