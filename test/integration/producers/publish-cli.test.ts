import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program.js';
import { parseKey } from '../../../src/core/keys.js';
import { createProducerHarness, type ProducerHarness } from './harness.js';

/**
 * `ragsync publish` as a user runs it, against real Kafka: a file with a 50 MB line and a line whose
 * record is over the topics' 4 MiB among normal ones. Every line that can be published is, the
 * others are reported by line number, and the summary is printed.
 */
let h: ProducerHarness;
let dir: string;

beforeAll(async () => {
  h = await createProducerHarness('publish-cli', {});
  dir = await mkdtemp(join(tmpdir(), 'ragsync-publish-cli-'));
});

afterAll(async () => {
  await h?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const line = (id: string, data: Record<string, unknown> = {}) => JSON.stringify({ type: 'product', tenant: 'shop', store_id: 1, id, action: 'save', data: { sku: id, name: `Lamp ${id}`, ...data } });

describe('ragsync publish with lines Kafka could never take', () => {
  it('publishes every other line, reports those by line number with a summary, and exits 1', async () => {
    const guide = `<p>${'Care guide for a lamp that lasts. '.repeat(45_000)}</p>`; // ~1.5 MB, within the 2 MiB a field
    const file = join(dir, 'changes.ndjson');
    await writeFile(
      file,
      [
        line('pub-1'),
        line('pub-50mb', { description: 'x'.repeat(50 * 1024 * 1024) }),
        line('pub-huge', { description: guide, short_description: guide, meta_description: guide }),
        line('pub-4'),
      ].join('\n'),
    );
    let out = '';
    const log = vi.spyOn(console, 'log').mockImplementation((text: string) => void (out += `${text}\n`));
    const saved = { ...process.env };
    Object.assign(process.env, { RAGSYNC_TOPIC_PREFIX: h.prefix, RAGSYNC_REDIS_PREFIX: h.config.redis.keyPrefix });
    let code: number;
    try {
      code = await runCli(['node', 'ragsync', 'publish', file], { writeErr: (t) => (out += t) });
    } finally {
      process.env = saved;
      process.exitCode = undefined;
      log.mockRestore();
    }
    expect(code).toBe(1);
    expect(out).toContain('published 2 record(s) from 2 line(s); rejected 2 line(s)');
    expect(out).toMatch(/line 2: the line is \d+ bytes; at most 16777216/);
    expect(out).toMatch(/line 3: too large: the encoded record takes \d+ bytes/);
    const ids = (await h.read('product')).map((r) => parseKey(r.key).entityId);
    expect(ids.sort()).toEqual(['pub-1', 'pub-4']);
  });
});

describe('ragsync publish as a process of its own', () => {
  const bin = join(import.meta.dirname, '../../../bin/ragsync.js');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, 'publish', ...args], {
      env: { ...process.env, RAGSYNC_TOPIC_PREFIX: h.prefix, RAGSYNC_REDIS_PREFIX: h.config.redis.keyPrefix, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      // A process held open by its producer thread would be stopped here, and fail the test.
      timeout: 90_000,
    });

  it('publishes through the producer thread it started before loading the CLI, and exits 0', async () => {
    const file = join(dir, 'process.ndjson');
    await writeFile(file, ['proc-1', 'proc-2', 'proc-3'].map((id) => line(id)).join('\n'));
    const result = run('--json', file);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ lines: 3, published: 3, rejected: 0 });
    const ids = (await h.read('product')).map((r) => parseKey(r.key).entityId);
    expect(ids.filter((id) => id.startsWith('proc-')).sort()).toEqual(['proc-1', 'proc-2', 'proc-3']);
  });

  it('exits 2 at once on a file it cannot read: the thread it started ahead does not hold it open', () => {
    const result = run(join(dir, 'missing.ndjson'));
    expect(result.signal).toBeNull();
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/cannot read .*missing\.ndjson/);
  });
});
