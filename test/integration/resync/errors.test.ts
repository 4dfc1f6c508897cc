import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import { uniqueName } from '../../support/unique.js';
import { cliEnv, resync } from './support.js';

/** What `ragsync resync` says when it cannot run, each as one clear line and an exit code. */
describe('resync refusals', () => {
  let harness: PipelineHarness;

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('names missing topics', async () => {
    const run = await runCli(['resync', '--yes'], cliEnv(harness, { RAGSYNC_TOPIC_PREFIX: `${uniqueName('none')}.` }));
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/missing topic\(s\) .*vectors.*: run `ragsync topics apply`/);
  });

  it('names a collection that does not exist for an in-place resync', async () => {
    const run = await resync(harness, []);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`unknown collection "${harness.config.store.collection}" (LanceDB at ${harness.config.store.lancedbPath})`);
    expect(run.events.at(-1)).toMatchObject({ phase: 'failed' });
  });

  it('refuses to run while another resync of the collection holds the lock', async () => {
    const redis = new Redis(harness.config.redis.url);
    const key = `${harness.config.redis.keyPrefix}resync:lock:${harness.config.store.collection}`;
    try {
      await redis.set(key, JSON.stringify({ owner: 'other-host pid 42', since: '2026-12-03T10:00:00.000Z' }), 'PX', 60_000);
      const run = await resync(harness, ['--into', 'fresh_one']);
      expect(run.code).toBe(2);
      expect(run.err).toContain('a resync of this collection is already running (other-host pid 42, since 2026-12-03T10:00:00.000Z)');
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('refuses bad options and a run without a terminal or --yes', async () => {
    const mixed = await runCli(['resync', '--into', 'v2', '--tenant', 'shop', '--yes'], cliEnv(harness));
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain('--into fills a whole new collection and cannot be combined with --tenant or --types');
    const types = await runCli(['resync', '--types', 'product,page', '--yes'], cliEnv(harness));
    expect(types.code).toBe(2);
    expect(types.err).toContain('--types: unknown entity type page');
    const unasked = await runCli(['resync'], cliEnv(harness));
    expect(unasked.code).toBe(2);
    expect(unasked.err).toContain('add --yes');
  });

  it('refuses an in-place resync of a LanceDB table while live store workers write it', { timeout: 120_000 }, async () => {
    await harness.start();
    try {
      const run = await resync(harness, []);
      expect(run.code).toBe(2);
      expect(run.err).toContain(`store workers of group ${harness.config.topics.prefix}store are running`);
      expect(run.err).toContain('use --into');
    } finally {
      await harness.stop();
    }
  });

  it('explains itself in --help', async () => {
    const help = await runCli(['resync', '--help'], cliEnv(harness));
    expect(help.code).toBe(0);
    for (const text of ['--from vectors', '--into', '--progress', '{"phase":"replay"', 'sweep', 'resumes', '--abandon']) expect(help.out).toContain(text);
  });
});
