import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
