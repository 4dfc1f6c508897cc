import { expect } from 'vitest';
import type { Config } from '../../../src/config/index.js';
import { HEADERS } from '../../../src/core/records.js';
import { enabledStages } from '../../../src/core/stages.js';
import { withAdmin } from '../../../src/kafka/admin.js';
import { retryGroupName } from '../../../src/kafka/retry-topics.js';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { readAll, waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { pipelineEnv, WorkerProcess } from '../../support/worker-process.js';
import { checkOffsetCommits, endOffsets, OffsetCommitLog } from '../support/offset-commits.js';
import type { FaultRow } from '../support/summary.js';
import { compare, readLanceDb, VersionMonitor } from '../support/verify.js';
import { workload } from '../support/workload.js';
import { drain } from './pipeline-lag.js';

export interface WorkerKillOptions {
  events: number;
  keys: number;
  kills: number;
  partitions: number;
  /**
   * SIGKILL or SIGTERM the worker and restart it; delete every Redis key of the pipeline (its
   * caches, breakers, locks) under the running worker; or `scale`: add a second worker, then stop
   * one again (SIGTERM), in turns, so the groups rebalance at every step (the next part is
   * published once the worker added shares every group).
   */
  fault: 'SIGKILL' | 'SIGTERM' | 'flush-redis' | 'scale';
}

/**
 * Records a stage processed more than once: every processing of an input record by map, chunk or
 * embed produces one output record of its key and version, so an output key and version found
 * twice was redelivered to its stage (the workload never publishes a key's version twice).
 */
export async function redeliveredRecords(kafka: PipelineHarness['kafka'], config: Config): Promise<Record<string, number>> {
  const serde = new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix });
  const redelivered: Record<string, number> = {};
  for (const [stage, output] of [['map', 'documents'], ['chunk', 'chunks'], ['embed', 'vectors']] as const) {
    const topic = `${config.topics.prefix}${output}`;
    const seen = new Set<string>();
    let twice = 0;
    for (const record of await readAll(kafka, topic, 120_000)) {
      const version = record.value === null ? record.headers[HEADERS.sourceVersion] : String(((await serde.decode(topic, record.value)) as { source_version: bigint }).source_version);
      const id = `${record.key}@${version}`;
      if (seen.has(id)) twice += 1;
      seen.add(id);
    }
    redelivered[stage] = twice;
  }
  return redelivered;
}

/**
 * Waits until `worker`'s `stage` has handled a record (its /metrics; every worker process counts
 * from 0): the worker is past its start and at work. Not "one more record than now": a worker that
 * had already handled all of its part when the test first looked never handled another, and the
 * wait timed out (once, in a full run, in scenario 2 with the machine nearly idle). A worker that
 * never gets to work still fails the wait. Fails at once if the worker exited.
 */
async function untilProgress(worker: WorkerProcess, stage: string, what: string): Promise<void> {
  await waitUntil(`${worker.name} to ${what}`, async () => {
    if (worker.tail().includes('exit none') === false) throw new Error(worker.tail());
    return (await worker.recordCount(stage, 'ok').catch(() => 0)) > 0;
  }, 120_000);
}

/**
 * `ragsync run all` stopped `kills` times while the events of a seeded workload are published and
 * processed, restarted at once each time (SIGKILL: no shutdown at all, so some kills fall between
 * a store write and its offset commit; SIGTERM: the graceful stop), or its Redis state deleted
 * under it as many times (what Redis holds is caches and coordination; what must not be lost lives
 * in Kafka). Then the store must hold
 * exactly the newest version of every key, no version may have gone backwards on the way (read
 * from the heads table twice a second by LanceDB's own client), and no point may exist twice.
 *
 * And no member may have committed a partition it no longer owned: the offset commits Kafka
 * recorded for the pipeline's groups (read from `__consumer_offsets`, not from the workers) never
 * set a partition's offset back and never pass its end. A member that commits a partition it lost,
 * after the new owner committed further, sets the offset back, and the new owner's work is
 * redone by whoever owns the partition next.
 */
export async function workerKills(name: string, options: WorkerKillOptions, record: (row: FaultRow) => void): Promise<void> {
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: String(options.partitions) });
  const { lancedbPath, collection } = harness.config.store;
  const monitor = new VersionMonitor(lancedbPath, collection);
  // Every group of `run all`: the stages', and the retry consumers' of the terminal ones (those
  // commit only when a record was retried, so they may have none).
  const groupPrefix = harness.config.runner.groupPrefix ?? harness.config.topics.prefix;
  const stages = enabledStages(harness.config.tenants);
  const stageGroups = stages.map((s) => `${groupPrefix}${s.group}`);
  const retryGroups = stages.filter((s) => s.terminal).map((s) => `${groupPrefix}${retryGroupName(s.group)}`);
  let commitLog: OffsetCommitLog | undefined;
  // Small slices: a store write and its commit are many, so kills land between them.
  // Stops and kills wait for the worker's /metrics, which it names in an info line.
  const env = pipelineEnv(harness.config, { RAGSYNC_MAX_RECORDS_PER_CALL: '25', LOG_LEVEL: options.fault === 'SIGTERM' || options.fault === 'SIGKILL' ? 'info' : 'warn' });
  let worker: WorkerProcess | undefined;
  let second: WorkerProcess | undefined;
  try {
    // Keys stop changing at points spread over the run: a record lost near any kill can be the newest of its key.
    const { lines, expected } = workload({ tenant: 'faults', seed: 16, keys: options.keys, events: options.events, spreadLastVersions: true });
    const json = lines.map((l) => JSON.stringify(l));
    // Started before any worker, so it sees every commit of the groups from their first.
    commitLog = await OffsetCommitLog.start(harness.kafka, [...stageGroups, ...retryGroups]);
    worker = WorkerProcess.start('worker 1', ['all'], env);
    monitor.start();

    // Publish in parts while the worker runs; stop it after every part but the last, restart it.
    const parts = options.kills + 1;
    const size = Math.ceil(json.length / parts);
    let lastFault = Date.now();
    // SIGTERM to exit of every graceful stop: a member that takes longer than the session
    // timeout has been thrown out of its groups, and its records go to another member again.
    const stopSeconds: number[] = [];
    for (let part = 0; part < parts; part += 1) {
      await harness.publishLines(json.slice(part * size, (part + 1) * size));
      if (part === parts - 1) break;
      // Let the worker get into the part (its groups joined, records in flight), then stop it.
      await new Promise((resolve) => setTimeout(resolve, 1500 + ((part * 977) % 2500)));
      if (options.fault === 'flush-redis') {
        await harness.deleteRedisKeys();
        lastFault = Date.now();
        continue;
      }
      if (options.fault === 'scale') {
        if (second) {
          // Stop the older one, so that the worker left has joined mid-run.
          await worker.stop(60_000);
          worker = second;
          second = undefined;
        } else {
          const added = (second = WorkerProcess.start(`worker ${part + 2}`, ['all'], env));
          // The next part is published once both workers share every group: a worker stopped
          // before the one added has joined (it takes seconds to start) would only hand its
          // partitions over, and no group would ever be rebalanced between two working members.
          await waitUntil(`${added.name} to join every group of the pipeline`, async () => {
            if (added.tail().includes('exit none') === false) throw new Error(added.tail());
            const { groups } = await withAdmin(harness.kafka, (admin) => admin.describeGroups(stageGroups));
            return groups.every((g) => g.state === 'Stable' && g.members.length === 2);
          }, 120_000);
        }
        lastFault = Date.now();
        continue;
      }
      if (options.fault === 'SIGKILL') {
        // Killed while its store writes: a kill that falls into the worker's start (joining its
        // groups takes seconds) would test a restart, not a write cut short before its commit.
        await untilProgress(worker, 'store', `store records of part ${part + 1}`);
        await new Promise((resolve) => setTimeout(resolve, (part * 373) % 700));
        await worker.kill();
      } else {
        // Stopped while it works: its stages joined and records of this part in flight, not while
        // it starts (a stop then has nothing to finish, and one before the process installed its
        // handlers is a plain kill).
        await untilProgress(worker, 'map', `process records of part ${part + 1}`);
        await new Promise((resolve) => setTimeout(resolve, (part * 373) % 1500));
        // A worker that already exited would stop "at once" and prove nothing.
        expect(worker.tail(), 'the worker runs when it is stopped').toContain('exit none');
        const sent = Date.now();
        await worker.stop(harness.config.runner.sessionTimeoutMs + 30_000);
        stopSeconds.push((Date.now() - sent) / 1000);
        expect(worker.logged('shutdown took longer than the session timeout'), worker.tail()).toEqual([]);
        expect(worker.tail(), 'exit code of a graceful stop').toContain('exit 0)');
      }
      lastFault = Date.now();
      worker = WorkerProcess.start(`worker ${part + 2}`, ['all'], env);
    }
    const w = worker;
    // Up to 15 minutes while the lag keeps falling (the suite runs files side by side on two
    // cores), but a pipeline whose lag stays flat for 5 minutes has stopped: that fails at once.
    await drain(harness.kafka, harness.config, 900_000, () => w.tail(), { stallMs: 300_000 });
    const recoverySeconds = (Date.now() - lastFault) / 1000;
    await Promise.all([w.stop(60_000), second?.stop(60_000)]);
    worker = second = undefined;
    await monitor.stop();
    // Every worker has exited: no commit of the groups is still on its way.
    const commits = await commitLog.stop();
    const committed = checkOffsetCommits(commits, await endOffsets(harness.kafka, commits));

    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    // A graceful stop commits what it processed: the next worker starts where it ended.
    const redelivered = options.fault === 'SIGTERM' ? await redeliveredRecords(harness.kafka, harness.config) : undefined;
    const redeliveredTotal = Object.values(redelivered ?? {}).reduce((a, b) => a + b, 0);
    const sessionSeconds = harness.config.runner.sessionTimeoutMs / 1000;
    const longestStop = Math.max(0, ...stopSeconds);
    const row: FaultRow = {
      test: name,
      events: lines.length,
      faults:
        (options.fault === 'flush-redis'
          ? `Redis keys deleted ${options.kills}×`
          : options.fault === 'scale'
            ? `a worker added or removed ${options.kills}×`
            : `${options.kills} × ${options.fault} of run all${redelivered ? `; ${redeliveredTotal} redelivered, longest stop ${longestStop.toFixed(1)} s of ${sessionSeconds} s` : ''}`) +
        `; ${commits.length} offset commits checked`,
      lost: drift.lost.length,
      stale: drift.stale.length + monitor.regressions.length,
      duplicates: drift.duplicates,
      recoverySeconds,
    };
    record(row);
    expect(monitor.reads, 'the heads table was read while the worker ran').toBeGreaterThan(2);
    expect(drift.lost, 'keys whose newest version is missing').toEqual([]);
    expect(drift.stale, 'keys left at another version or content').toEqual([]);
    expect(monitor.regressions, 'versions that went backwards').toEqual([]);
    expect(drift.duplicates, 'points written twice').toBe(0);
    expect(drift.unexpected).toEqual([]);
    // Zero commits read would make the two checks below pass for nothing.
    expect(Object.fromEntries(stageGroups.map((g) => [g, (committed.counts[g] ?? 0) > 0])), `offset commits read per group: ${JSON.stringify(committed.counts)}`).toEqual(
      Object.fromEntries(stageGroups.map((g) => [g, true])),
    );
    expect(committed.backwards, 'offset commits that set a partition back (a member committing a partition it no longer owns)').toEqual([]);
    expect(committed.outOfRange, "offset commits past the partition's end").toEqual([]);
    if (redelivered) {
      expect(stopSeconds.length, 'graceful stops').toBe(options.kills);
      expect(longestStop, `seconds from SIGTERM to exit (${stopSeconds.map((s) => s.toFixed(1)).join(', ')})`).toBeLessThan(sessionSeconds);
      expect(redelivered, 'records processed again after a graceful stop, by stage').toEqual({ map: 0, chunk: 0, embed: 0 });
    }
  } finally {
    await Promise.all([worker?.kill(), second?.kill()]);
    await monitor.stop().catch(() => undefined);
    await commitLog?.close();
    await harness.close();
  }
}
