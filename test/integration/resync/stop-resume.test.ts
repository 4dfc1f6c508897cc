import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RAGSYNC_BIN, runCli } from '../../support/cli.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { cliEnv, Expected, readCollection, resync, saveLine } from './support.js';

/** Ctrl-C stops a resync at a safe point and says how to go on; the same command resumes it. */
describe('a resync stopped with Ctrl-C', () => {
  let harness: PipelineHarness;
  const expected = new Expected();

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
    await harness.start();
    const lines = Array.from({ length: 300 }, (_, i) => {
      expected.record(`item-${i}`, 500 + i, false);
      return saveLine(`item-${i}`, 500 + i);
    });
    await harness.publishLines(lines);
    await harness.settle();
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('stops, says how to resume, and the same command finishes it in the same groups', { timeout: 300_000 }, async () => {
    const into = `${harness.config.store.collection}_r`;
    const base = process.env;
    const child = spawn(process.execPath, [RAGSYNC_BIN, 'resync', '--from', 'changes', '--into', into, '--progress', 'json', '--yes'], {
      env: { PATH: base.PATH, HOME: base.HOME, KAFKA_BROKERS: base.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: base.SCHEMA_REGISTRY_URL, REDIS_URL: base.REDIS_URL, ...cliEnv(harness) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // Stop as soon as the replay starts: its first check of the offsets stops it.
      if (!signalled && out.includes('"message":"starting resync-')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    const events = out.trim().split('\n').map((line) => JSON.parse(line) as { phase: string; message?: string });
    expect(events.at(-1)!.phase).toBe('stopped');
    expect(err).toContain('run the same command again to resume it');
    expect(err).toContain(`the collection "${into}" stays`);
    const id = /resync-\d{8}t\d{6}-[0-9a-f]{4}/.exec(err)![0];

    const resumed = await resync(harness, ['--from', 'changes', '--into', into]);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.events.some((e) => String(e.message ?? '').startsWith(`resuming ${id}`))).toBe(true);
    expect(resumed.events.at(-1)).toMatchObject({ phase: 'done', summary: { id, switched: { now: into } } });
    await harness.settle();
    expect((await readCollection(harness, into)).docs).toEqual(expected.live());
  });

  it('is dropped with --abandon: its groups are deleted and another resync may run', { timeout: 300_000 }, async () => {
    const stopped = await interrupted(['--from', 'changes', '--into', `${harness.config.store.collection}_x`]);
    expect(stopped.code).toBe(130);
    expect(await resyncGroups()).not.toEqual([]);
    const refused = await resync(harness, ['--from', 'vectors', '--into', `${harness.config.store.collection}_y`]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('an unfinished resync of');
    const abandon = await runCli(['resync', '--abandon'], cliEnv(harness));
    expect(abandon.code).toBe(0);
    expect(abandon.out).toMatch(/^abandoned resync-\S+; \d+ resync consumer groups deleted; the collection ".*_x" was left as it is/);
    expect(await resyncGroups()).toEqual([]);
  });

  async function interrupted(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    const base = process.env;
    const child = spawn(process.execPath, [RAGSYNC_BIN, 'resync', ...args, '--progress', 'json', '--yes'], {
      env: { PATH: base.PATH, HOME: base.HOME, KAFKA_BROKERS: base.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: base.SCHEMA_REGISTRY_URL, REDIS_URL: base.REDIS_URL, ...cliEnv(harness) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!signalled && out.includes('"message":"starting resync-')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, out, err };
  }

  async function resyncGroups(): Promise<string[]> {
    const admin = harness.kafka.admin();
    await admin.connect();
    try {
      return (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(`${harness.config.topics.prefix}resync-`));
    } finally {
      await admin.disconnect();
    }
  }
});
