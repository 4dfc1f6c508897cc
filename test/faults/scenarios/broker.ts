import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { expect } from 'vitest';
import { HEADERS } from '../../../src/core/records.js';
import { signBody } from '../../../src/producers/magento/signature.js';
import { RAGSYNC_BIN } from '../../support/cli.js';
import type { PublishLine } from '../../support/generate-entities.js';
import { readAll } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';
import { freePort, OwnBroker, TcpProxy } from '../support/own-broker.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, readLanceDb, VersionMonitor } from '../support/verify.js';
import { productKey, workload, type ExpectedDoc } from '../support/workload.js';
import { lagPerGroup, totalLag } from './pipeline-lag.js';

/**
 * Scenarios 4, 5 and 16 of the fault suite: the broker itself fails. Each runs on a broker of its
 * own (support/own-broker.ts), never the shared one, with the shared registry and Redis.
 */
const TENANT = 'faults';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A pipeline (topics, store, prefixes) on a broker of its own. */
async function ownPipeline(label: string, partitions: number, proxy?: TcpProxy): Promise<{ broker: OwnBroker; harness: PipelineHarness }> {
  const broker = await OwnBroker.start({ label, ...(proxy ? { workerListener: { advertisedPort: proxy.port } } : {}) });
  if (proxy) proxy.target = broker.workerPort;
  try {
    const harness = await PipelineHarness.create('lancedb', { KAFKA_BROKERS: broker.brokers, RAGSYNC_PARTITIONS: String(partitions) });
    return { broker, harness };
  } catch (error) {
    await broker.close();
    throw error;
  }
}

type Harness = PipelineHarness;

/**
 * The pipeline's lag, or undefined while the broker cannot say (a broker just back still loads its
 * groups and answers "not the coordinator" for a while).
 */
async function lagOf(harness: Harness): Promise<number | undefined> {
  return totalLag(harness.kafka, harness.config).catch(() => undefined);
}

/**
 * As pipeline-lag.ts' drain, for a broker that may have just come back: a failed read is not quiet.
 * When the lag does not drain, the error says which groups lag, what the worker's /readyz says
 * about each stage, and where the worker's whole log was written.
 */
async function drainAfterFault(harness: Harness, timeoutMs: number, worker: WorkerProcess): Promise<void> {
  const started = Date.now();
  let quiet = 0;
  let last: number | undefined;
  while (Date.now() - started < timeoutMs) {
    last = await lagOf(harness);
    quiet = last === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return;
    await sleep(500);
  }
  const groups = await lagPerGroup(harness.kafka, harness.config).catch((error: Error) => `unknown (${error.message})`);
  const ready = await probeBody(worker, '/readyz');
  const log = join(tmpdir(), `ragsync-faults-worker-${worker.pid ?? 'gone'}-${Date.now()}.log`);
  writeFileSync(log, worker.lines.map((l) => JSON.stringify(l)).join('\n'));
  throw new Error(`the pipeline still had ${last ?? 'unknown'} records of lag ${timeoutMs / 1000} s after the fault (per group: ${JSON.stringify(groups)}); /readyz: ${ready}; worker log ${log}; ${worker.tail()}`);
}

/** The status and body the worker's health server gives on `path`, or why it gave none. */
async function probeBody(worker: WorkerProcess, path: '/readyz' | '/healthz'): Promise<string> {
  const url = worker.logged('health and metrics')[0]?.url;
  if (typeof url !== 'string') return 'no health server';
  try {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) });
    return `${response.status} ${await response.text()}`;
  } catch (error) {
    return `no answer (${(error as Error).message})`;
  }
}

/** The worker's answer on `path` of its health server, 0 when it does not answer. */
async function probe(worker: WorkerProcess, path: '/readyz' | '/healthz'): Promise<number> {
  const url = worker.logged('health and metrics')[0]?.url;
  if (typeof url !== 'string') return 0;
  try {
    return (await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) })).status;
  } catch {
    return 0;
  }
}

/** True while the worker process runs (a process that exited and was reaped is gone). */
function alive(worker: WorkerProcess): boolean {
  try {
    process.kill(worker.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

/** The worker ran as one process from start to end: it never exited, and never started over. */
function expectSameProcess(worker: WorkerProcess): void {
  expect(alive(worker), `the worker exited; ${worker.tail()}`).toBe(true);
  expect(worker.logged('health and metrics').length, 'the worker started once').toBe(1);
}

export interface BrokerKillOptions {
  events: number;
  keys: number;
  kills: number;
  partitions: number;
  /** Webhook senders at once, each with keys of its own (so each key's saves arrive in order). */
  senders: number;
}

interface Sent {
  batchId: string;
  keys: string[];
}

/** A Magento webhook batch of workload lines: saves with the workload's name, deletes as deletes. */
function magentoBatch(batchId: string, lines: PublishLine[]): string {
  const items = lines.map((l) =>
    l.action === 'delete'
      ? { type: 'product', id: l.id, action: 'delete', store_id: l.store_id }
      : { type: 'product', id: l.id, action: 'save', store_id: l.store_id, data: { sku: l.id, name: l.data!.name, description: l.data!.description, price: Number(l.data!.price).toFixed(2) } },
  );
  return JSON.stringify({ type: 'batch', batch_id: batchId, timestamp: new Date().toISOString(), items });
}

/** `ragsync webhook serve` as its own process; its output kept for failure messages. */
function startWebhook(env: Record<string, string>, port: number): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [RAGSYNC_BIN, 'webhook', 'serve', '--port', String(port), '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => output };
}

/**
 * Scenario 4: the broker SIGKILLed `kills` times while Magento webhooks stream in through
 * `ragsync webhook serve` (a process of its own) and `run all` works. Senders behave like the
 * module: each sends its batches one after the other and resends a batch, with the same batch_id,
 * until it gets a 202. Every item of every batch answered 202 must be in the change topic (read
 * with a plain kafkajs consumer), the worker must come through every kill without a restart, and
 * the store must end with each key's last event, at the version the ingress gave it.
 */
export async function brokerKills(name: string, options: BrokerKillOptions, record: (row: FaultRow) => void): Promise<void> {
  const { broker, harness } = await ownPipeline('kill', options.partitions);
  const { lancedbPath, collection } = harness.config.store;
  const monitor = new VersionMonitor(lancedbPath, collection);
  const secret = 'broker-kill-secret';
  const port = await freePort();
  const env = pipelineEnv(harness.config, { LOG_LEVEL: 'info', RAGSYNC_MAX_RECORDS_PER_CALL: '50' });
  const webhook = startWebhook({ ...env, RAGSYNC_TENANTS: JSON.stringify({ [TENANT]: { secrets: [secret], stores: [1] } }) }, port);
  let worker: WorkerProcess | undefined;
  const base = `http://127.0.0.1:${port}/api/webhooks/magento/${TENANT}`;
  try {
    const deadline = Date.now() + 60_000;
    while (!(await fetch(`${base}/status`).then((r) => r.ok, () => false))) {
      if (webhook.child.exitCode !== null || Date.now() > deadline) throw new Error(`webhook serve did not start: ${webhook.output()}`);
      await sleep(300);
    }
    worker = WorkerProcess.start('worker', ['all'], env);
    await worker.waitForLog('serving health', 'health and metrics');
    monitor.start();

    const { lines } = workload({ tenant: TENANT, seed: 4, keys: options.keys, events: options.events });
    // Each sender's events, in workload order, cut into batches that hold a key at most once (its
    // items are identified by batch_id and key on Kafka).
    const plans: PublishLine[][][] = Array.from({ length: options.senders }, () => []);
    const lastOf = new Map<string, { batchId: string; line: PublishLine }>();
    for (const line of lines) {
      const sender = plans[Number(line.id.slice(2)) % options.senders]!;
      const open = sender.at(-1);
      if (!open || open.length >= 20 || open.some((l) => l.id === line.id)) sender.push([line]);
      else open.push(line);
    }
    const accepted: Sent[] = [];
    const answers = new Map<number, number>();
    let acceptedItems = 0;
    let sending = true;
    const send = async (s: number) => {
      for (const [n, batchLines] of plans[s]!.entries()) {
        const batchId = `kill-${s}-${n}`;
        for (const line of batchLines) lastOf.set(productKey(TENANT, line.id, line.store_id), { batchId, line });
        const body = magentoBatch(batchId, batchLines);
        for (;;) {
          const status = await fetch(`${base}/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': signBody(body, secret) }, body, signal: AbortSignal.timeout(60_000) }).then(
            (r) => r.status,
            () => 0,
          );
          answers.set(status, (answers.get(status) ?? 0) + 1);
          if (status === 202) break;
          await sleep(250);
        }
        accepted.push({ batchId, keys: batchLines.map((l) => productKey(TENANT, l.id, l.store_id)) });
        acceptedItems += batchLines.length;
      }
    };
    const senders = Promise.all(plans.map((_, s) => send(s))).finally(() => (sending = false));

    // Kill at evenly spread points of the ingest, so every kill falls while webhooks are answered.
    let lastFault = Date.now();
    let kills = 0;
    for (let k = 1; k <= options.kills; k += 1) {
      while (sending && acceptedItems < (lines.length * k) / (options.kills + 1)) await sleep(50);
      if (!sending) break;
      await broker.kill();
      kills += 1;
      await sleep(1_000 + ((k * 1_777) % 4_000));
      await broker.restart();
      lastFault = Date.now();
    }
    await senders;
    const w = worker;
    await drainAfterFault(harness, 300_000, w);
    const recoverySeconds = (Date.now() - lastFault) / 1000;
    expectSameProcess(worker);
    await worker.stop(60_000);
    await monitor.stop();

    // What Kafka holds, read by a plain consumer: per batch_id and key, the versions written.
    const topic = `${harness.config.topics.prefix}changes.product`;
    const reader = new Kafka({ clientId: 'faults-reader', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
    const onKafka = new Map<string, bigint[]>();
    let records = 0;
    for (const r of await readAll(reader, topic, 120_000)) {
      records += 1;
      const id = `${r.headers[HEADERS.correlationId]} ${r.key}`;
      // From the header: a delete is a tombstone, with no value to decode.
      const version = BigInt(r.headers[HEADERS.sourceVersion]!);
      onKafka.set(id, [...(onKafka.get(id) ?? []), version]);
    }
    const missing = accepted.flatMap((b) => b.keys.map((key) => `${b.batchId} ${key}`)).filter((id) => !onKafka.has(id));
    const resent = [...onKafka.values()].filter((v) => v.length > 1).length;

    // Each key's last event, at the highest version Kafka holds of it (a resent batch got newer ones).
    const expected = new Map<string, ExpectedDoc>();
    for (const [docKey, { batchId, line }] of lastOf) {
      const versions = onKafka.get(`${batchId} ${docKey}`) ?? [0n];
      const version = versions.reduce((a, b) => (b > a ? b : a));
      expected.set(docKey, line.action === 'delete' ? { docKey, version, deleted: true } : { docKey, version, deleted: false, title: String(line.data!.name) });
    }
    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const refused = [...answers].filter(([status]) => status !== 202).map(([status, n]) => `${n}× ${status || 'no answer'}`);
    record({
      test: name,
      events: lines.length,
      faults: `broker SIGKILLed ${kills}× during webhook ingest (answers refused: ${refused.join(', ') || 'none'}; ${resent} items on Kafka twice after a resend)`,
      lost: missing.length + drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(kills, 'kills while webhooks were answered').toBe(options.kills);
    expect(refused.length, 'the kills were felt by the senders').toBeGreaterThan(0);
    expect(missing, 'items answered 202 that are not on Kafka').toEqual([]);
    expect(records).toBeGreaterThanOrEqual(lines.length);
    expectNoDrift(drift, monitor);
  } finally {
    webhook.child.kill('SIGKILL');
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    if (!broker.running) await broker.restart().catch(() => undefined);
    await harness.close().catch(() => undefined);
    await broker.close();
  }
}

export interface BrokerDownOptions {
  events: number;
  keys: number;
  partitions: number;
  downMs: number;
}

/**
 * Scenario 5: the broker stopped for `downMs` while `run all` has work to do. The worker must wait
 * as designed: the same process all along (never exits), /healthz 200 (nothing an orchestrator
 * would restart it for), /readyz 503 while the broker is away; once it is back, /readyz 200 again
 * and the lag drained within 5 minutes, the store holding exactly each key's last event.
 */
export async function brokerDown(name: string, options: BrokerDownOptions, record: (row: FaultRow) => void): Promise<void> {
  const { broker, harness } = await ownPipeline('down', options.partitions);
  const { lancedbPath, collection } = harness.config.store;
  const monitor = new VersionMonitor(lancedbPath, collection);
  const env = pipelineEnv(harness.config, { LOG_LEVEL: 'info', RAGSYNC_MAX_RECORDS_PER_CALL: '50' });
  let worker: WorkerProcess | undefined;
  try {
    const { lines, expected } = workload({ tenant: TENANT, seed: 5, keys: options.keys, events: options.events });
    const json = lines.map((l) => JSON.stringify(l));
    worker = WorkerProcess.start('worker', ['all'], env);
    await worker.waitForLog('serving health', 'health and metrics');
    monitor.start();
    const half = Math.floor(json.length / 2);
    await harness.publishLines(json.slice(0, half));
    // Into the work (groups joined, records stored), then the rest, and the broker goes away.
    const w = worker;
    const started = Date.now();
    while (((await lagOf(harness)) ?? half) >= half) {
      if (Date.now() - started > 120_000) throw new Error(`the worker did not start on its input; ${w.tail()}`);
      await sleep(500);
    }
    await harness.publishLines(json.slice(half));
    const lagBefore = (await lagOf(harness)) ?? Number.NaN;
    await broker.stop();
    const stoppedAt = Date.now();

    // While it is away: the worker lives, stays healthy, and says it is not ready.
    const samples: Array<{ at: number; alive: boolean; ready: number; health: number }> = [];
    while (Date.now() - stoppedAt < options.downMs) {
      samples.push({ at: (Date.now() - stoppedAt) / 1000, alive: alive(worker), ready: await probe(worker, '/readyz'), health: await probe(worker, '/healthz') });
      await sleep(2_000);
    }
    await broker.restart();
    const back = Date.now();
    let readyAgain = Number.NaN;
    while (Date.now() - back < 300_000) {
      if ((await probe(worker, '/readyz')) === 200) {
        readyAgain = (Date.now() - back) / 1000;
        break;
      }
      await sleep(1_000);
    }
    await drainAfterFault(harness, 300_000, w);
    const recoverySeconds = (Date.now() - back) / 1000;
    expectSameProcess(worker);
    await worker.stop(60_000);
    await monitor.stop();

    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const firstRed = samples.find((s) => s.ready !== 200);
    // Not ready from the first red answer until the broker returned.
    const greenAfterRed = firstRed ? samples.filter((s) => s.at > firstRed.at && s.ready === 200) : [];
    record({
      test: name,
      events: lines.length,
      faults: `broker stopped ${Math.round(options.downMs / 1000)} s with ${lagBefore} records of lag (not ready after ${firstRed?.at.toFixed(0) ?? '–'} s, ready ${Number.isNaN(readyAgain) ? 'never' : `${readyAgain.toFixed(0)} s`} after its return)`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(lagBefore, 'records left to process when the broker went away').toBeGreaterThan(0);
    expect(samples.filter((s) => !s.alive), 'the worker exited while the broker was away').toEqual([]);
    expect(samples.filter((s) => s.health !== 200), '/healthz answers other than 200 while the broker was away').toEqual([]);
    expect(firstRed, `/readyz stayed 200 while the broker was away; ${worker.tail()}`).toBeDefined();
    expect(firstRed!.at, 'seconds until /readyz said not ready').toBeLessThan(90);
    expect(greenAfterRed, '/readyz 200 again while the broker was still away').toEqual([]);
    expect(readyAgain, 'seconds until /readyz was 200 after the broker came back').toBeLessThan(120);
    expect(recoverySeconds, 'seconds until the lag was 0 after the broker came back').toBeLessThan(300);
    expectNoDrift(drift, monitor);
  } finally {
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    if (!broker.running) await broker.restart().catch(() => undefined);
    await harness.close().catch(() => undefined);
    await broker.close();
  }
}

export interface NetworkCutOptions {
  events: number;
  keys: number;
  partitions: number;
  cutMs: number;
}

/**
 * Scenario 16: the network between `run all` and the broker cut for `cutMs`. The worker reaches
 * the broker only through a TCP proxy the test controls (the broker's listener for it advertises
 * the proxy's port); the test publishes and reads lag on the direct listener, so events keep
 * arriving during the cut and the lag shows the worker really heard nothing. Then: nothing lost,
 * nothing stale, nothing twice, and the same worker process all along.
 */
export async function networkCut(name: string, options: NetworkCutOptions, record: (row: FaultRow) => void): Promise<void> {
  const proxy = await TcpProxy.listen();
  const { broker, harness } = await ownPipeline('cut', options.partitions, proxy).catch(async (error: unknown) => {
    await proxy.close();
    throw error;
  });
  const { lancedbPath, collection } = harness.config.store;
  const monitor = new VersionMonitor(lancedbPath, collection);
  const env = pipelineEnv(harness.config, { KAFKA_BROKERS: broker.workerBrokers, LOG_LEVEL: 'info', RAGSYNC_MAX_RECORDS_PER_CALL: '50' });
  let worker: WorkerProcess | undefined;
  try {
    const { lines, expected } = workload({ tenant: TENANT, seed: 16, keys: options.keys, events: options.events });
    const json = lines.map((l) => JSON.stringify(l));
    worker = WorkerProcess.start('worker', ['all'], env);
    await worker.waitForLog('serving health', 'health and metrics');
    monitor.start();
    const third = Math.ceil(json.length / 3);
    await harness.publishLines(json.slice(0, third));
    const w = worker;
    const started = Date.now();
    while (((await lagOf(harness)) ?? third) >= third) {
      if (Date.now() - started > 120_000) throw new Error(`the worker did not start on its input; ${w.tail()}`);
      await sleep(500);
    }
    expect(proxy.accepted, 'the worker reached the broker through the proxy').toBeGreaterThan(0);
    proxy.cut();
    const cutAt = Date.now();
    // Events keep coming during the cut, on the direct listener.
    await harness.publishLines(json.slice(third, 2 * third));
    await sleep(Math.max(0, options.cutMs - (Date.now() - cutAt)));
    const lagInCut = (await lagOf(harness)) ?? Number.NaN;
    const aliveInCut = alive(worker);
    const cutSeconds = proxy.heal() / 1000;
    const healed = Date.now();
    await harness.publishLines(json.slice(2 * third));
    await drainAfterFault(harness, 300_000, w);
    const recoverySeconds = (Date.now() - healed) / 1000;
    expectSameProcess(worker);
    await worker.stop(60_000);
    await monitor.stop();

    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    record({
      test: name,
      events: lines.length,
      faults: `network to the broker cut ${cutSeconds.toFixed(0)} s (lag at the end of the cut: ${lagInCut})`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });
    expect(aliveInCut, 'the worker lived through the cut').toBe(true);
    expect(lagInCut, 'records waiting at the end of the cut (the worker heard nothing)').toBeGreaterThan(0);
    expect(recoverySeconds, 'seconds until the lag was 0 after the cut').toBeLessThan(300);
    expectNoDrift(drift, monitor);
  } finally {
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    proxy.heal();
    await harness.close().catch(() => undefined);
    await broker.close();
    await proxy.close();
  }
}
