import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseKey } from '../../../src/core/keys.js';
import { PROJECT_ROOT } from '../../../src/stack/layout.js';
import { createProducerHarness, type ProducerHarness } from './harness.js';

const run = promisify(execFile);

/**
 * `ragsync catalog sync` as a user runs it: a child process producing on its producer thread (as
 * `publish` does), read back with a separate client. A bulk file of 2,000 rows must arrive whole,
 * once per row, in file order per key, and a second run of the same file must publish nothing.
 */
let h: ProducerHarness;
let dir: string;

beforeAll(async () => {
  h = await createProducerHarness('catalogcli', { outdoor: { secrets: [], stores: [0] } });
  dir = await mkdtemp(join(tmpdir(), 'ragsync-catalog-cli-'));
});

afterAll(async () => {
  await h?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RAGSYNC_TOPIC_PREFIX: h.prefix,
    RAGSYNC_REDIS_PREFIX: h.config.redis.keyPrefix,
    RAGSYNC_TENANTS: JSON.stringify({ outdoor: { secrets: [], stores: [0] } }),
    LOG_LEVEL: 'warn',
  };
}

async function sync(file: string): Promise<{ published: number }> {
  const { stdout } = await run(process.execPath, [join(PROJECT_ROOT, 'bin', 'ragsync.js'), 'catalog', 'sync', file, '--tenant', 'outdoor', '--no-log', '--json'], { env: env(), timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { published: number };
}

describe('catalog sync from the command line', () => {
  it('publishes every row of a bulk file once, and nothing when run again on the same file', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({ sku: `CAMP-${String(i).padStart(4, '0')}`, name: `Folding camp stool ${i}`, description: `A stool that folds flat, model ${i}.`, price: 20 + (i % 50), currency: 'EUR', status: 1, qty: i % 9 }));
    const file = join(dir, 'stools.ndjson');
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

    expect((await sync(file)).published).toBe(2000);
    const records = await h.read('product');
    expect(records).toHaveLength(2000);
    const ids = records.map((r) => parseKey(r.key).entityId);
    expect(new Set(ids).size).toBe(2000);
    const stool = records.find((r) => parseKey(r.key).entityId === 'CAMP-0042')!;
    expect(stool.decoded).toMatchObject({ name: 'Folding camp stool 42', price: 62 });

    expect((await sync(file)).published).toBe(0);
    expect(await h.read('product')).toHaveLength(2000);
  });
});
