import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { HashingEmbedder } from '../../../src/embedders/hashing.js';
import { readAll } from '../../support/kafka.js';
import { PipelineHarness, type StoreKind } from '../../support/pipeline-harness.js';
import type { QdrantTestServer } from '../../support/qdrant-server/server.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, HeadsMonitor, readLanceDb, VersionMonitor, type StoreContents } from '../support/verify.js';
import { productKey, productLine, workload } from '../support/workload.js';
import { drain } from './pipeline-lag.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The worker's /healthz or /readyz: status code and body. */
export async function probe(worker: WorkerProcess, path: '/healthz' | '/readyz'): Promise<{ status: number; body: ReadyBody }> {
  const url = worker.logged('health and metrics')[0]?.url;
  if (typeof url !== 'string') throw new Error(`${worker.name} has not said where it serves ${path}; ${worker.tail()}`);
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

interface ReadyBody {
  status: string;
  stages?: Array<{ stage: string; state: string; pausedPartitions: Array<{ reason: string }> }>;
}

/** Every record of this pipeline's DLQ topics, read by a client of the test's own (not the worker's). */
export async function deadLetters(harness: PipelineHarness): Promise<Array<{ topic: string; key: string; code: string }>> {
  const prefix = harness.config.topics.prefix;
  const admin = harness.kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix) && t.endsWith('.dlq'));
  await admin.disconnect();
  const out: Array<{ topic: string; key: string; code: string }> = [];
  for (const topic of topics) {
    for (const record of await readAll(harness.kafka, topic)) out.push({ topic: topic.slice(prefix.length), key: record.key, code: record.headers['ragsync-error-code'] ?? '' });
  }
  return out;
}

/** The heads and points a Qdrant test server holds, read from its engine (not through ragsync's store). */
export async function readQdrant(server: QdrantTestServer, collection: string): Promise<StoreContents> {
  const heads = new Map<string, { version: bigint; deleted: boolean }>();
  const points = new Map<string, Array<{ id: string; title: string; chunkIndex: number }>>();
  const scroll = async (name: string, take: (payload: Record<string, unknown>, id: string) => void) => {
    if (!server.engine.collections.has(name)) return;
    let offset: unknown = undefined;
    do {
      const page = (await server.engine.run('scroll_points', name, { limit: 1000, with_payload: true, with_vector: false, ...(offset === undefined ? {} : { offset }) })) as {
        points: Array<{ id: string | number; payload: Record<string, unknown> }>;
        next_page_offset?: unknown;
      };
      for (const point of page.points) take(point.payload, String(point.id));
      offset = page.next_page_offset ?? undefined;
    } while (offset !== undefined && offset !== null);
  };
  await scroll(`${collection}_heads`, (payload) => {
    const head = payload.head as { doc_key: string; version: string; deleted?: boolean };
    heads.set(head.doc_key, { version: BigInt(head.version), deleted: head.deleted === true });
  });
  await scroll(collection, (payload, id) => {
    const docKey = String(payload.doc_key);
    const list = points.get(docKey) ?? [];
    list.push({ id, title: String(payload.title), chunkIndex: Number(payload.chunk_index) });
    points.set(docKey, list);
  });
  return { heads, points };
}

/**
 * A TCP relay in front of the Qdrant test server, on a port of its own. Stopping it closes the port
 * and drops every open connection, so the worker meets what a stopped Qdrant gives (connection
 * refused); the engine behind keeps its collections, and `start` opens the same port again.
 */
class StoppableRelay {
  private server: ReturnType<typeof createTcpServer> | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createTcpServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * What blocks writes to a LanceDB folder when the tests run as root: mode bits do not stop root, a
 * read-only bind mount needs privileges a test does not have, so every file and folder under it is
 * made immutable (`chattr +i`, ext4): nothing can be created, renamed, removed or changed there,
 * while reads go on as on a read-only disk.
 */
function immutable(path: string, on: boolean): void {
  execFileSync('chattr', ['-R', on ? '+i' : '-i', path], { stdio: 'pipe' });
}

export interface StorePauseOptions {
  store: StoreKind;
  /** How long the store stays unavailable. */
  pauseMs: number;
  events: number;
  keys: number;
}

/**
 * Scenario 7: the store unavailable for `pauseMs` under a running worker (a process, as deployed)
 * while events keep arriving: the LanceDB folder made unwritable, or the Qdrant server stopped and
 * started again on its port with its data. Nothing may reach a DLQ (read throughout by a separate
 * Kafka client), the worker must stay up and report the pause as designed (LanceDB: a system
 * pause, /readyz 503; Qdrant: the circuit opens, the stage waits as `target-down` and stays ready),
 * and once the store is back the store must equal the workload's expected state, no version having
 * gone backwards and no point written twice.
 */
export async function storePause(name: string, options: StorePauseOptions, report: (row: FaultRow) => void): Promise<void> {
  // Short retry tiers (the worker takes them from the harness' config, whose topics exist).
  const harness = await PipelineHarness.create(options.store, { RAGSYNC_PARTITIONS: '3', RAGSYNC_RETRY_DELAYS: '5s,10s,20s' });
  const { lancedbPath, collection } = harness.config.store;
  const qdrant = harness.qdrant;
  const relay = qdrant ? new StoppableRelay({ host: '127.0.0.1', port: Number(new URL(qdrant.url).port) }) : undefined;
  await relay?.start();
  // The breaker probes twice at most during the pause, so a record fails at most three times and
  // stays within the retry tiers; the pause itself is the default breaker wait at full size.
  const openMs = Math.max(20_000, Math.floor(options.pauseMs / 2));
  const env = pipelineEnv(harness.config, {
    LOG_LEVEL: 'info',
    RAGSYNC_MAX_RECORDS_PER_CALL: '50',
    RAGSYNC_BREAKER_OPEN_MS: String(openMs),
    ...(relay ? { QDRANT_URL: relay.url } : {}),
  });
  const monitor = qdrant ? new HeadsMonitor(async () => (await readQdrant(qdrant, collection)).heads) : new VersionMonitor(lancedbPath, collection);
  let worker: WorkerProcess | undefined;
  let blocked = false;
  try {
    const { lines, expected } = workload({ tenant: 'faults', seed: 7, keys: options.keys, events: options.events });
    const json = lines.map((l) => JSON.stringify(l));
    worker = WorkerProcess.start('worker', ['all'], env);
    await worker.waitForLog('serving health', 'health and metrics');
    const pid = worker.pid;
    const w = worker;
    const half = Math.floor(json.length / 2);
    await harness.publishLines(json.slice(0, half));
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    monitor.start();

    // The store goes away; the rest of the events arrive while it is gone.
    if (relay) await relay.stop();
    else immutable(lancedbPath, true);
    blocked = true;
    const pausedAt = Date.now();
    await harness.publishLines(json.slice(half));
    let sawPause = false;
    let readyWhilePaused: number | undefined;
    while (Date.now() - pausedAt < options.pauseMs) {
      await sleep(Math.min(10_000, Math.max(0, options.pauseMs - (Date.now() - pausedAt))));
      expect(worker.pid, 'the worker is the process started').toBe(pid);
      const ready = await probe(worker, '/readyz');
      const store = ready.body.stages?.find((s) => s.stage === 'store');
      const reasons = new Set(store?.pausedPartitions.map((p) => p.reason));
      const want = relay ? 'target-down' : 'system';
      if (store?.state === 'paused' && reasons.has(want)) {
        sawPause = true;
        readyWhilePaused ??= ready.status;
      }
      expect((await probe(worker, '/healthz')).status, `healthz during the pause; ${worker.tail()}`).toBe(200);
      // Checked as it happens: a dead letter now is a record given up while the store was away.
      expect(await deadLetters(harness), 'dead letters while the store was down').toEqual([]);
    }

    if (relay) await relay.start();
    else immutable(lancedbPath, false);
    blocked = false;
    const back = Date.now();
    await drain(harness.kafka, harness.config, Math.max(600_000, openMs * 3), () => w.tail());
    const recoverySeconds = (Date.now() - back) / 1000;
    const readyAfter = await probe(worker, '/readyz');
    const pidAfter = worker.pid;
    await worker.stop(60_000);
    worker = undefined;
    await monitor.stop();

    const dead = await deadLetters(harness);
    const contents = qdrant ? await readQdrant(qdrant, collection) : await readLanceDb(lancedbPath, collection);
    const drift = compare(contents, expected);
    report({
      test: name,
      events: lines.length,
      faults: `${options.store} unavailable ${Math.round(options.pauseMs / 1000)} s (${relay ? 'server stopped, restarted on its port' : 'folder immutable'})`,
      lost: drift.lost.length + dead.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(dead, 'dead letters after the store came back').toEqual([]);
    expect(sawPause, `the store stage reported its pause (${relay ? 'target-down' : 'system'})`).toBe(true);
    // A system pause makes the worker unready; a target that is down does not.
    expect(readyWhilePaused, '/readyz while the store stage was paused').toBe(relay ? 200 : 503);
    expect(readyAfter.status, `/readyz after the store came back: ${JSON.stringify(readyAfter.body)}`).toBe(200);
    expect(pidAfter).toBe(pid);
    expectNoDrift(drift, monitor);
    if (qdrant) expect(qdrant.violations).toEqual([]);
  } finally {
    await worker?.kill();
    if (blocked && !relay) immutable(lancedbPath, false);
    await monitor.stop().catch(() => undefined);
    await relay?.stop();
    await harness.close();
  }
}

/**
 * An OpenAI-compatible embeddings endpoint over the hashing embedder that holds every request
 * holding `marker` for `delayMs` before answering, and counts how often the marker reached it.
 */
async function slowEndpoint(marker: string, delayMs: number): Promise<{ url: string; markerCalls: number[]; close: () => Promise<void> }> {
  const embedder = new HashingEmbedder();
  const markerCalls: number[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string | string[] };
        const input = Array.isArray(body.input) ? body.input : [body.input];
        if (input.some((text) => text.includes(marker))) {
          markerCalls.push(Date.now());
          await sleep(delayMs);
        }
        const vectors = await embedder.embed(input);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ object: 'list', data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: Array.from(v) })) }));
      })().catch(() => {
        response.writeHead(500);
        response.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    markerCalls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SlowHandlerOptions {
  sessionTimeoutMs: number;
  events: number;
  keys: number;
}

/**
 * Scenario 6: one record whose handling takes three session timeouts, with nothing in the
 * pipeline mocked: the embed stage embeds through an OpenAI-compatible endpoint that answers the
 * request holding that record's text only after 3 × the session timeout. The embed group may
 * rebalance at most once (counted from kafkajs' joins in the worker's log) and the text may reach
 * the endpoint at most twice; the store must end in the expected state.
 */
export async function slowHandler(name: string, options: SlowHandlerOptions, report: (row: FaultRow) => void): Promise<void> {
  const marker = 'Slowpoke';
  const delayMs = 3 * options.sessionTimeoutMs;
  const endpoint = await slowEndpoint(marker, delayMs);
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '3' });
  const { lancedbPath, collection } = harness.config.store;
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-slow-'));
  const configFile = join(dir, 'config.json');
  // The request must outlive the handler's stall: a client timeout would make it a retry instead.
  writeFileSync(configFile, JSON.stringify({ runner: { sessionTimeoutMs: options.sessionTimeoutMs }, embedder: { timeoutMs: delayMs + 60_000 } }));
  const env = pipelineEnv(harness.config, {
    RAGSYNC_CONFIG: configFile,
    EMBEDDER: 'openai',
    EMBEDDING_URL: endpoint.url,
    EMBEDDING_MODEL: 'hashing-endpoint',
    // kafkajs' joins are logged at debug.
    LOG_LEVEL: 'debug',
    RAGSYNC_MAX_RECORDS_PER_CALL: '50',
  });
  const monitor = new VersionMonitor(lancedbPath, collection);
  let worker: WorkerProcess | undefined;
  try {
    const { lines, expected } = workload({ tenant: 'faults', seed: 6, keys: options.keys, events: options.events });
    const slow = productLine('faults', 'P-99999', 1, 1);
    slow.line.data = { ...(slow.line.data as Record<string, unknown>), name: `${marker} ${slow.title}` };
    const slowKey = productKey('faults', 'P-99999', 1);
    expected.set(slowKey, { docKey: slowKey, version: 1n, deleted: false, title: `${marker} ${slow.title}` });
    const json = lines.map((l) => JSON.stringify(l));
    const half = Math.floor(json.length / 2);
    const all = [...json.slice(0, half), JSON.stringify(slow.line), ...json.slice(half)];

    worker = WorkerProcess.start('worker', ['all'], env);
    await worker.waitForLog('serving health', 'health and metrics');
    const w = worker;
    monitor.start();
    const started = Date.now();
    await harness.publishLines(all);
    const embedGroup = `${harness.config.topics.prefix}embed`;
    const embedJoins = () => w.lines.filter((l) => l.component === 'kafkajs' && l.msg.startsWith('Consumer has joined the group') && l.groupId === embedGroup);
    await drain(harness.kafka, harness.config, delayMs * 4 + 300_000, () => `embed group joined ${embedJoins().length}×, slow text embedded ${endpoint.markerCalls.length}×; ${w.tail()}`);
    const recoverySeconds = (Date.now() - started) / 1000;
    const joins = embedJoins();
    const crashed = worker.logged('consumer crashed');
    await worker.stop(60_000);
    worker = undefined;
    await monitor.stop();

    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const rebalances = Math.max(0, joins.length - 1);
    report({
      test: name,
      events: all.length,
      faults: `one embedding answered after ${delayMs / 1000} s (3× a ${options.sessionTimeoutMs / 1000} s session): ${rebalances} rebalance(s), text embedded ${endpoint.markerCalls.length}×`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(endpoint.markerCalls.length, 'the slow text reached the endpoint').toBeGreaterThanOrEqual(1);
    expect(endpoint.markerCalls.length, 'the slow text reached the endpoint at most twice').toBeLessThanOrEqual(2);
    expect(joins.length, 'the embed group was joined (kafkajs logs at debug)').toBeGreaterThanOrEqual(1);
    expect(rebalances, 'rebalances of the embed group').toBeLessThanOrEqual(1);
    expect(crashed).toEqual([]);
    expectNoDrift(drift, monitor);
  } finally {
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    await endpoint.close();
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
