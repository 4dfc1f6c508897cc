import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Schema } from 'avsc';
import { expect } from 'vitest';
import { findRagsyncError } from '../../../src/core/errors.js';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { loadAvsc } from '../../../src/schemas/avsc-files.js';
import { readAll } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, runCli, WorkerProcess } from '../../support/worker-process.js';
import type { FaultRow } from '../support/summary.js';
import { compare, expectNoDrift, readLanceDb, VersionMonitor } from '../support/verify.js';
import { productKey, workload } from '../support/workload.js';
import { drain } from './pipeline-lag.js';
import { deadLetters, probe } from './stalls.js';

/**
 * The product schema as a careless next release would change it: `sku` turned from a string into
 * a number, and a field added without a default. Under FULL_TRANSITIVE neither old readers nor new
 * ones could read the other's records.
 */
function incompatibleProduct(): Schema {
  const current = loadAvsc('product') as { fields: Array<{ name: string; type: unknown }> };
  return {
    ...current,
    fields: [...current.fields.map((f) => (f.name === 'sku' ? { ...f, type: 'long' } : f)), { name: 'warranty_years', type: 'int' }],
  } as Schema;
}

async function registry(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json().catch(() => undefined) };
}

async function versionsOf(url: string, subject: string): Promise<unknown> {
  return (await registry(url, 'GET', `/subjects/${encodeURIComponent(subject)}/versions`)).json;
}

/** Lines the publish validation must refuse, each for a reason it has to name. */
const MISFITS = [
  { line: { type: 'product', tenant: 'faults', store_id: 1, id: 'MISFIT-1', action: 'save', source_version: 1, data: { sku: 'MISFIT-1', name: 'Misfit one', price: 'cheap' } }, names: 'price' },
  { line: { type: 'product', tenant: 'faults', store_id: 1, id: 'MISFIT-2', action: 'upsert', source_version: 1, data: { sku: 'MISFIT-2', name: 'Misfit two' } }, names: 'action' },
  { line: { type: 'product', tenant: 'faults', store_id: 1, id: 'MISFIT-3', action: 'save', source_version: 'yesterday', data: { sku: 'MISFIT-3', name: 'Misfit three' } }, names: 'source_version' },
];

export interface SchemaOptions {
  events: number;
  keys: number;
}

/**
 * Scenario 13: an incompatible schema, at every door a producer has. (1) A change whose fields do
 * not fit the registered schema, given to `ragsync publish`: that line is refused with its field
 * named, the valid lines of the same file are published. (2) A producer whose schema is an
 * incompatible evolution of the registered one: the registry refuses it under FULL_TRANSITIVE,
 * the error names the subject and the fields, and the subject keeps its versions. (3) `ragsync
 * publish` against a subject that already holds an incompatible schema: it stops before sending
 * anything, naming the fields. (4) A record written by a producer that bypassed the check (its
 * schema id points to the incompatible schema): the worker dead-letters it as unresolvable. The
 * worker, a process started before all this, must still be the same process, healthy and ready,
 * and every valid record before, among and after the refused ones must be applied.
 */
export async function incompatibleSchema(name: string, options: SchemaOptions, report: (row: FaultRow) => void): Promise<void> {
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '3' });
  const { lancedbPath, collection } = harness.config.store;
  const prefix = harness.config.topics.prefix;
  const registryUrl = harness.config.registry.url;
  const client = new RegistryClient(harness.config.registry);
  const productSubject = RegistrySerde.subject(`${prefix}changes.product`);
  // A second pipeline prefix whose product subject an incompatible schema got to first.
  const otherPrefix = `${prefix}other.`;
  const otherSubject = RegistrySerde.subject(`${otherPrefix}changes.product`);
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-schema-'));
  const env = pipelineEnv(harness.config, { LOG_LEVEL: 'info' });
  const monitor = new VersionMonitor(lancedbPath, collection);
  const producer = harness.kafka.producer({ allowAutoTopicCreation: false });
  const admin = harness.kafka.admin();
  let worker: WorkerProcess | undefined;
  try {
    await producer.connect();
    await admin.connect();
    const { lines, expected } = workload({ tenant: 'faults', seed: 13, keys: options.keys, events: options.events });
    const json = lines.map((l) => JSON.stringify(l));
    const third = Math.ceil(json.length / 3);
    worker = WorkerProcess.start('worker', ['all'], env);
    await worker.waitForLog('serving health', 'health and metrics');
    const pid = worker.pid;
    const w = worker;
    monitor.start();
    await harness.publishLines(json.slice(0, third));
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    const started = Date.now();

    // (1) Misfits among valid lines, through the CLI.
    const file = join(dir, 'mixed.ndjson');
    const middle = json.slice(third, 2 * third);
    const mixed = [...middle.slice(0, 10), ...MISFITS.map((m) => JSON.stringify(m.line)), ...middle.slice(10)];
    writeFileSync(file, `${mixed.join('\n')}\n`);
    const cli = await runCli(['publish', file], env);
    const cliOut = `${cli.out}${cli.err}`;

    // (2) An incompatible evolution of the registered product schema, as a producer registers it.
    const before = await versionsOf(registryUrl, productSubject);
    const refused = await client.register(productSubject, incompatibleProduct()).then(
      () => undefined,
      (error: unknown) => error,
    );
    const after = await versionsOf(registryUrl, productSubject);

    // (3) `ragsync publish` when its subject holds an incompatible schema already.
    await admin.createTopics({ topics: [{ topic: `${otherPrefix}changes.product`, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const planted = await registry(registryUrl, 'POST', `/subjects/${encodeURIComponent(otherSubject)}/versions`, { schema: JSON.stringify(incompatibleProduct()) });
    expect(planted.status, JSON.stringify(planted.json)).toBe(200);
    const plantedId = (planted.json as { id: number }).id;
    const otherFile = join(dir, 'other.ndjson');
    writeFileSync(otherFile, `${middle.slice(0, 5).join('\n')}\n`);
    const stopped = await runCli(['publish', otherFile], { ...env, RAGSYNC_TOPIC_PREFIX: otherPrefix, RAGSYNC_GROUP_PREFIX: otherPrefix });
    const otherRecords = await readAll(harness.kafka, `${otherPrefix}changes.product`);
    const otherVersions = await versionsOf(registryUrl, otherSubject);

    // (4) A record framed with the incompatible schema's id, sent past every check.
    const rogueKey = productKey('faults', 'ROGUE-1', 1);
    const rogue = Buffer.alloc(5 + 16, 0x02);
    rogue.writeUInt8(0, 0);
    rogue.writeInt32BE(plantedId, 1);
    await producer.send({ topic: `${prefix}changes.product`, messages: [{ key: rogueKey, value: rogue }] });

    // Then the rest of the valid changes.
    await harness.publishLines(json.slice(2 * third));
    await drain(harness.kafka, harness.config, 300_000, () => w.tail());
    const recoverySeconds = (Date.now() - started) / 1000;
    const health = await probe(worker, '/healthz');
    const ready = await probe(worker, '/readyz');
    const pidAfter = worker.pid;
    const crashed = worker.logged('consumer crashed');
    await worker.stop(60_000);
    const exitedCleanly = worker.tail();
    worker = undefined;
    await monitor.stop();

    const dead = await deadLetters(harness);
    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const misfitsStored = (await readAll(harness.kafka, `${prefix}changes.product`)).filter((r) => r.key.includes('MISFIT'));
    report({
      test: name,
      events: lines.length + MISFITS.length + 6,
      faults: `${MISFITS.length} misfit lines, an incompatible evolution, a subject holding an incompatible schema, a record past the check`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    });

    // (1) Refused at the producer, each with what is wrong; the valid lines of the file published.
    expect(cli.code, cliOut).toBe(1);
    expect(cliOut).toContain(`published ${middle.length} record(s) from ${middle.length} line(s); rejected ${MISFITS.length} line(s)`);
    MISFITS.forEach((misfit, i) => expect(cliOut, cliOut).toMatch(new RegExp(`line ${11 + i}: .*${misfit.names}`)));
    expect(misfitsStored, 'refused lines in Kafka').toEqual([]);
    // (2) The registry refused the evolution, naming subject and fields; nothing was registered.
    expect(findRagsyncError(refused)?.code, String(refused)).toBe('schema_incompatible');
    expect(String((refused as Error).message)).toContain(productSubject);
    expect(String((refused as Error).message)).toMatch(/"sku" changed its type/);
    expect(String((refused as Error).message)).toMatch(/"warranty_years" was added without a default/);
    expect(after).toEqual(before);
    // (3) The producer stopped before sending anything, naming what is wrong.
    expect(stopped.code, `${stopped.out}${stopped.err}`).not.toBe(0);
    expect(`${stopped.out}${stopped.err}`).toMatch(/schema_incompatible|incompatible/);
    expect(`${stopped.out}${stopped.err}`).toMatch(/sku|warranty_years/);
    expect(otherRecords, 'records written by the refused producer').toEqual([]);
    expect(otherVersions).toEqual([1]);
    // (4) The record past the check is dead-lettered once as unresolvable, nothing else is.
    expect(dead).toEqual([{ topic: 'map.dlq', key: rogueKey, code: 'schema_unresolvable' }]);
    // The worker went on: the same process, healthy, ready, every valid change applied.
    expect(pidAfter).toBe(pid);
    expect(crashed).toEqual([]);
    expect(health.status, exitedCleanly).toBe(200);
    expect(ready.status, JSON.stringify(ready.body)).toBe(200);
    expectNoDrift(drift, monitor);
  } finally {
    await worker?.kill();
    await monitor.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    const others = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(otherPrefix));
    if (others.length > 0) await admin.deleteTopics({ topics: others }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await client.deleteSubject(otherSubject).catch(() => undefined);
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
