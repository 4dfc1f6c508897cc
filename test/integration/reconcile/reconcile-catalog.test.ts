import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileReport } from '../../../src/reconcile/types.js';
import type { VectorStore } from '../../../src/stores/index.js';
import { runCli } from '../../support/cli.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';

/**
 * `ragsync reconcile FILE` on the real stack: a catalog file synced with `catalog sync` and indexed
 * by the pipeline; then a document deleted from the store behind its back, one record's text edited
 * in the file and one record removed from it, neither synced. Reconcile reports exactly those;
 * `--repair` publishes them as `catalog sync` would, and moves the catalog state with them.
 */
const TENANT = 'reconcat';
const key = (id: string) => `${TENANT}/product/${encodeURIComponent(id)}/1`;
const record = (sku: string, text: string) => ({ sku, name: `Product ${sku}`, description: `<p>${text}</p>` });

describe('reconcile against a catalog file', () => {
  let harness: PipelineHarness;
  let store: VectorStore;
  let env: Record<string, string>;
  let dir: string;
  let file: string;
  const scope = ['--tenant', TENANT, '--type', 'product', '--store', '1'];
  const rows = {
    'POT-1': 'A clay pot for herbs on a sunny sill.',
    'RAKE-2': 'A light rake for leaves and lawns.',
    'SHED-3': 'A wooden shed for tools and bikes.',
    'HOSE-4': 'A kink-free garden hose of 25 metres.',
  };
  const write = (records: object[]) => writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');

  const reconcile = async (...args: string[]) => {
    const result = await runCli(['reconcile', file, ...scope, '--json', ...args], env);
    let report: ReconcileReport & { inSync: boolean };
    try {
      report = JSON.parse(result.out) as ReconcileReport & { inSync: boolean };
    } catch {
      throw new Error(`reconcile printed no JSON (exit ${result.code}): ${result.err || result.out}`);
    }
    return { ...result, report };
  };

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
    dir = mkdtempSync(path.join(tmpdir(), 'ragsync-reconcile-'));
    file = path.join(dir, 'catalog.ndjson');
    env = {
      RAGSYNC_TOPIC_PREFIX: harness.config.topics.prefix,
      RAGSYNC_REDIS_PREFIX: harness.config.redis.keyPrefix,
      LANCEDB_PATH: harness.config.store.lancedbPath,
      RAGSYNC_COLLECTION: harness.config.store.collection,
      RAGSYNC_PARTITIONS: '2',
      QDRANT_URL: '',
      EMBEDDER: 'hashing',
      LOG_LEVEL: 'silent',
    };
    write(Object.entries(rows).map(([sku, text]) => record(sku, text)));
    await harness.start();
    const sync = await runCli(['catalog', 'sync', file, ...scope, '--no-log'], env);
    expect(sync.code, sync.err).toBe(0);
    await harness.settle();
    store = await harness.openStore();
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the synced file and the store in sync, exit code 0', async () => {
    const { code, report, err } = await reconcile();
    expect(code, err).toBe(0);
    expect(report.scopes).toEqual([{ tenant: TENANT, entityType: 'product', source: 4, store: 4, inSync: 4, missing: 0, stale: 0, extra: 0 }]);
  });

  describe('when the file and the store drifted apart', () => {
    beforeAll(async () => {
      const head = (await store.getDocument(key('POT-1'))).head!;
      await store.deleteDocument(key('POT-1'), head.version, Date.now());
      write([record('POT-1', rows['POT-1']), record('RAKE-2', 'A light rake for leaves, lawns and gravel paths.'), record('SHED-3', rows['SHED-3'])]);
    });

    it('reports the deleted document as missing, the edited one as stale and the removed one as extra', async () => {
      const { code, report, err } = await reconcile();
      expect(code, err).toBe(1);
      expect(report.drift.map((d) => [d.kind, d.key, d.reason ?? null])).toEqual([
        ['missing', key('POT-1'), null],
        ['stale', key('RAKE-2'), 'text'],
        ['extra', key('HOSE-4'), 'not-in-source'],
      ]);
      expect(report.scopes).toEqual([{ tenant: TENANT, entityType: 'product', source: 3, store: 3, inSync: 1, missing: 1, stale: 1, extra: 1 }]);
    });

    it('repairs it with --repair and moves the catalog state, so the next sync publishes nothing', async () => {
      const { code, report, err } = await reconcile('--repair');
      expect(code, err).toBe(1);
      expect(report.repair).toMatchObject({ republished: 2, deleted: 1, refused: [] });
      await harness.settle();

      const check = await harness.openStore();
      const pot = await check.getDocument(key('POT-1'));
      expect(pot.head?.deleted).toBe(false);
      expect(pot.points.length).toBeGreaterThan(0);
      const rake = await check.getDocument(key('RAKE-2'));
      expect(rake.points.map((p) => p.payload.text).join(' ')).toContain('gravel paths');
      const hose = await check.getDocument(key('HOSE-4'));
      expect(hose.head?.deleted).toBe(true);
      expect(hose.points).toEqual([]);

      const diff = await runCli(['catalog', 'diff', file, ...scope, '--json'], env);
      expect(diff.code, diff.err).toBe(0);
      expect(JSON.parse(diff.out)).toMatchObject({ added: [], modified: [], deleted: [], unchanged: 3 });

      const again = await reconcile();
      expect(again.code, again.err).toBe(0);
      expect(again.report.totals).toMatchObject({ source: 3, store: 3, inSync: 3 });
    });
  });

  it('needs --tenant for a catalog file: a usage error, exit code 2', async () => {
    const { code, err } = await runCli(['reconcile', file], env);
    expect(code).toBe(2);
    expect(err).toContain('needs --tenant');
  });
});
