import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A relay in front of a Qdrant (test) server that answers 503, in Qdrant's error shape, to some of
 * the store's head writes (`PUT /collections/<name>_heads/points`) and passes every other request
 * through unchanged. A head write is the last step of the store's guarded batch: the points are
 * written, the heads are not, and the store fails the whole slice with a retryable error, which
 * sends every record of the slice to the store's first retry tier (docs/design.md §4).
 *
 * Which writes fail is decided per record version, not at random per request, so the scenario can
 * know that nothing it injects exhausts the retry tiers:
 * - a write fails when it carries a version chosen by a hash of its key and version
 *   (`perThousand` of them), none of its versions has failed before, and at least `spacing` head
 *   writes went through since the last failure (so failures never come in a row and the store's
 *   circuit breaker, which opens after consecutive failures, stays out of the way);
 * - every version of a failed write is remembered, and a write that carries one of them again (the
 *   retried record, or any write it is batched with) always goes through.
 * So each record version fails at most once and comes back from the first tier to be applied.
 */
export interface FlakyHeadWrites {
  /** The relay's base URL, to give the worker as QDRANT_URL. */
  url: string;
  /** Head writes seen and head writes answered 503. */
  readonly stats: { headWrites: number; failed: number; versionsFailed: number };
  close(): Promise<void>;
}

export interface FlakyHeadWritesOptions {
  /** Share of record versions, in thousandths, whose head write fails once. */
  perThousand: number;
  /** Head writes that must go through between two failures. @defaultValue 2 */
  spacing?: number;
}

const HEAD_WRITE = /^\/collections\/[^/]+_heads\/points$/;

interface HeadPoint {
  payload?: { head?: { doc_key?: string; version?: string } };
}

function chosen(id: string, perThousand: number): boolean {
  return createHash('sha1').update(id).digest().readUInt32BE(0) % 1000 < perThousand;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function flakyHeadWrites(upstreamUrl: string, options: FlakyHeadWritesOptions): Promise<FlakyHeadWrites> {
  const upstream = new URL(upstreamUrl);
  const spacing = options.spacing ?? 2;
  const failedVersions = new Set<string>();
  const stats = { headWrites: 0, failed: 0, versionsFailed: 0 };
  let sinceFailure = spacing;

  /** True when this head write is to be answered 503 (and its versions are then remembered). */
  function fails(body: Buffer): boolean {
    stats.headWrites += 1;
    const points = (JSON.parse(body.toString('utf8')) as { points?: HeadPoint[] }).points ?? [];
    const versions = points.map((p) => `${p.payload?.head?.doc_key}@${p.payload?.head?.version}`);
    const fail = sinceFailure >= spacing && !versions.some((v) => failedVersions.has(v)) && versions.some((v) => chosen(v, options.perThousand));
    if (!fail) {
      sinceFailure += 1;
      return false;
    }
    sinceFailure = 0;
    for (const v of versions) failedVersions.add(v);
    stats.failed += 1;
    stats.versionsFailed = failedVersions.size;
    return true;
  }

  function forward(request: IncomingMessage, body: Buffer, response: ServerResponse): void {
    const outgoing = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: { ...request.headers, host: upstream.host } },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    outgoing.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: { error: `relay: ${error.message}` }, time: 0 }));
    });
    outgoing.end(body);
  }

  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const path = new URL(request.url ?? '/', 'http://relay').pathname;
      if (request.method === 'PUT' && HEAD_WRITE.test(path) && fails(body)) {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ status: { error: 'Service Unavailable: the node is overloaded' }, time: 0 }));
        return;
      }
      forward(request, body, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
