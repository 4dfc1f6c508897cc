import { enabledStages } from '../../../src/core/stages.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStatus } from '../../../src/cli/status.js';
import { groupLag } from '../../../src/kafka/lag.js';
import { PROJECT_ROOT } from '../../../src/stack/layout.js';
import type { StoredDocument, VectorStore } from '../../../src/stores/index.js';
import { generateEntities, toNdjson } from '../../support/generate-entities.js';
import { waitUntil } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';

/**
 * A worker killed with SIGKILL mid-run and restarted must end with exactly the store state of an
 * uninterrupted run: offsets are committed only after outputs are acknowledged, and everything
 * written twice is written identically (deterministic ids, versions, payloads, vectors).
 */
describe('a worker killed with SIGKILL mid-run', () => {
  let harness: PipelineHarness;
  let worker: ChildProcess | undefined;
  /** The worker's last log lines, shown when the test fails. */
  let stderr = '';
  /** Holds the workers' config file. */
  let dir: string | undefined;
  let configFile: string;

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
    // The killed worker's members stay in their groups until their session times out, and only
    // then does the restarted worker get their partitions: a 10 s session (the broker allows 6 s
    // and more) instead of the default 30 s.
    dir = mkdtempSync(join(tmpdir(), 'ragsync-crash-'));
    configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, JSON.stringify({ runner: { sessionTimeoutMs: 10_000 } }));
  });

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await harness?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  function startWorker(): ChildProcess {
    const c = harness.config;
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'ragsync.js'), 'run', 'all', '--port', '0'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: c.kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: c.registry.url,
        REDIS_URL: c.redis.url,
        RAGSYNC_TOPIC_PREFIX: c.topics.prefix,
        RAGSYNC_REDIS_PREFIX: c.redis.keyPrefix,
        LANCEDB_PATH: c.store.lancedbPath,
        RAGSYNC_COLLECTION: c.store.collection,
        EMBEDDER: 'hashing',
        // Small slices: the store commits every few records, so the test sees it part-way through.
        RAGSYNC_MAX_RECORDS_PER_CALL: '10',
        LOG_LEVEL: 'warn',
        QDRANT_URL: '',
        RAGSYNC_CONFIG: configFile,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    return child;
  }

  async function snapshot(store: VectorStore): Promise<Map<string, StoredDocument>> {
    const docs = new Map<string, StoredDocument>();
    for (const key of (await store.listDocKeys()).sort()) docs.set(key, await store.getDocument(key));
    return docs;
  }

  it('ends with the same store state as an uninterrupted run', { timeout: 480_000 }, async () => {
    await harness.publishLines(toNdjson(generateEntities(300, { tenant: 'crash', seed: 7, storeId: 1 })).split('\n').filter((l) => l.length > 0));
    const stages = enabledStages(harness.config.tenants).map((s) => ({ name: s.name, group: s.group, inputs: [...s.inputs] }));
    worker = startWorker();
    // Kill it once the store has committed some of its input but not all of it.
    let seen = 'nothing';
    await waitUntil('the store stage to be part-way through', async () => {
      const store = await groupLag(harness.kafka, `${harness.config.topics.prefix}store`, [`${harness.config.topics.prefix}vectors`]);
      const committed = store.topics[0]!.end - store.lag;
      seen = `${store.topics[0]!.end} vectors, ${committed} committed`;
      return committed > 0 && store.lag > 0;
    }, 120_000).catch((error: Error) => {
      throw new Error(`${error.message} (last seen: ${seen}; worker stderr: ${stderr.slice(-1000) || 'empty'})`);
    });
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker!.once('exit', resolve));

    worker = startWorker();
    await waitUntil('the restarted worker to catch up', async () => (await collectStatus(harness.kafka, harness.config, stages)).stages.every((s) => s.lag === 0), 180_000);
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker!.once('exit', resolve));
    worker = undefined;

    // The reference: a fresh set of groups replays the same topics into a fresh store, uninterrupted.
    const original = harness.config;
    harness.config = { ...original, store: { ...original.store, lancedbPath: `${original.store.lancedbPath}-reference` }, runner: { ...original.runner, groupPrefix: `${original.topics.prefix}reference.` } };
    await harness.start();
    await harness.settle(180_000, harness.config.runner.groupPrefix);
    await harness.stop();
    harness.config = original;

    const crashed = await snapshot(await harness.openStore());
    const reference = await snapshot(await harness.openStore({ lancedbPath: `${original.store.lancedbPath}-reference` }));
    expect(crashed.size).toBeGreaterThan(250);
    expect([...crashed.keys()]).toEqual([...reference.keys()]);
    for (const [key, doc] of reference) {
      const other = crashed.get(key)!;
      expect(other.head?.version, key).toBe(doc.head?.version);
      expect(other.points, key).toEqual(doc.points);
    }
  });
});
