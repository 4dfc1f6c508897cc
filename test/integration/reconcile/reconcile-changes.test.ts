import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVector, type VectorSetRecord } from '../../../src/core/records.js';
import type { ReconcileReport } from '../../../src/reconcile/types.js';
import type { StoredDocument, VectorStore } from '../../../src/stores/index.js';
import { RAGSYNC_BIN, runCli } from '../../support/cli.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';

/**
 * `ragsync reconcile changes` on the real stack: a pipeline indexes a few entities, then the store
 * is changed behind the pipeline's back through its own API (a document deleted, one rolled back to
 * an older version, one moved to a newer version with another text, one written that no source
 * has). Reconcile must report exactly those, `--repair` must bring the store back through the
 * pipeline, and a separate read of the store must show it.
 */
const TENANT = 'recon';
const key = (id: string, type = 'product') => `${TENANT}/${type}/${encodeURIComponent(id)}/1`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function saveLine(id: string, version: number, name: string): string {
  return JSON.stringify({ type: 'product', tenant: TENANT, store_id: 1, id, action: 'save', source_version: version, data: { sku: id, name, description: `<p>${name}: a sturdy piece for the garden, made to last.</p>` } });
}

/** A vector set built from what the store holds for a document, with another version (and optionally text). */
function vectorSetFrom(doc: StoredDocument, docKey: string, version: bigint, text?: string): VectorSetRecord {
  const first = doc.points[0]!.payload;
  return {
    doc_key: docKey,
    tenant: first.tenant,
    entity_type: first.entity_type as VectorSetRecord['entity_type'],
    entity_id: first.entity_id,
    store_id: first.store_id,
    source_version: version,
    occurred_at: Date.now(),
    doc_type: first.doc_type,
    doc_subtype: first.doc_subtype,
    title: first.title,
    url: first.url,
    text_hash: text === undefined ? first.text_hash : sha256(text),
    payload_json: JSON.stringify({ sku: first.entity_id }),
    payload_hash: sha256(JSON.stringify({ sku: first.entity_id })),
    model_id: first.model_id,
    dimension: doc.points[0]!.vector.length,
    chunks: doc.points.map((p, index) => ({
      id: p.payload.chunk_id,
      index,
      text: text ?? p.payload.text,
      hash: sha256(text ?? p.payload.text),
      token_count: 10,
      vector: encodeVector(p.vector),
    })),
    touch: false,
  };
}

describe('reconcile against the change topics', () => {
  let harness: PipelineHarness;
  let store: VectorStore;
  let env: Record<string, string>;
  const versions = { 'TABLE-1': 100, 'CHAIR-2': 200, 'BENCH-3': 300, 'LAMP-4': 400, 'HAMMOCK-5': 500 };

  const reconcile = async (...args: string[]) => {
    const result = await runCli(['reconcile', 'changes', '--json', ...args], env);
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
    await harness.start();
    await harness.publishLines(Object.entries(versions).map(([id, version]) => saveLine(id, version, `Item ${id}`)));
    // A deleted entity: its newest record is a tombstone, so the store must not hold it.
    await harness.publishLines([saveLine('GONE-6', 600, 'Gone'), JSON.stringify({ type: 'product', tenant: TENANT, store_id: 1, id: 'GONE-6', action: 'delete', source_version: 601 })]);
    await harness.settle();
    store = await harness.openStore();
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('finds the store in sync with the topics after the pipeline ran, exit code 0', async () => {
    const { code, report, err } = await reconcile();
    expect(code, err).toBe(0);
    expect(report.inSync).toBe(true);
    expect(report.drift).toEqual([]);
    expect(report.scopes).toEqual([{ tenant: TENANT, entityType: 'product', source: 5, store: 5, inSync: 5, missing: 0, stale: 0, extra: 0 }]);
  });

  describe('when the store was changed behind the pipeline', () => {
    let before: Record<string, StoredDocument>;

    beforeAll(async () => {
      before = Object.fromEntries(await Promise.all(['CHAIR-2', 'BENCH-3'].map(async (id) => [id, await store.getDocument(key(id))] as const)));
      // Missing: TABLE-1 deleted (a delete marker at its own version).
      await store.deleteDocument(key('TABLE-1'), 100n, Date.now());
      // Stale, older: CHAIR-2 removed with its marker, then written back at version 150.
      await store.deleteDocument(key('CHAIR-2'), 200n, 1);
      expect(await store.purgeDeleteMarkers(2)).toBe(1);
      expect(await store.applyVectorSet(vectorSetFrom(before['CHAIR-2']!, key('CHAIR-2'), 150n))).toEqual({ applied: true });
      // Stale, newer and with another text: BENCH-3 at version 310.
      expect(await store.applyVectorSet(vectorSetFrom(before['BENCH-3']!, key('BENCH-3'), 310n, 'Something else entirely.'))).toEqual({ applied: true });
      // Extra: a document no change topic has.
      expect(await store.applyVectorSet(vectorSetFrom(before['CHAIR-2']!, key('GHOST-9'), 50n))).toEqual({ applied: true });
    });

    it('reports exactly the missing, stale and extra documents, per tenant and type, exit code 1', async () => {
      const { code, report, err } = await reconcile();
      expect(code, err).toBe(1);
      expect(report.inSync).toBe(false);
      expect(report.drift).toEqual([
        { key: key('TABLE-1'), tenant: TENANT, entityType: 'product', kind: 'missing', sourceVersion: '100', storeVersion: '100' },
        { key: key('BENCH-3'), tenant: TENANT, entityType: 'product', kind: 'stale', reason: 'newer', sourceVersion: '300', storeVersion: '310' },
        { key: key('CHAIR-2'), tenant: TENANT, entityType: 'product', kind: 'stale', reason: 'older', sourceVersion: '200', storeVersion: '150' },
        { key: key('GHOST-9'), tenant: TENANT, entityType: 'product', kind: 'extra', reason: 'not-in-source', sourceVersion: null, storeVersion: '50' },
      ]);
      expect(report.scopes).toEqual([{ tenant: TENANT, entityType: 'product', source: 5, store: 5, inSync: 2, missing: 1, stale: 2, extra: 1 }]);
    });

    it('prints a table per tenant and type for people', async () => {
      const { code, out } = await runCli(['reconcile', 'changes'], env);
      expect(code).toBe(1);
      expect(out).toMatch(/tenant\s+type\s+source\s+store\s+in sync\s+missing\s+stale\s+extra/);
      expect(out).toMatch(new RegExp(`${TENANT}\\s+product\\s+5\\s+5\\s+2\\s+1\\s+2\\s+1`));
      expect(out).toContain(`missing ${key('TABLE-1')}`);
      expect(out).toContain('drift: 1 missing, 2 stale, 1 extra');
    });

    it('repairs it through the pipeline with --repair, as a separate read of the store shows', async () => {
      const { code, report, err } = await reconcile('--repair');
      expect(code, err).toBe(1);
      // TABLE-1, CHAIR-2 and BENCH-3 republished (BENCH-3 at the store's newer version), GHOST-9 deleted.
      expect(report.repair).toEqual({ republished: 3, deleted: 1, raised: 1, refused: [] });
      await harness.settle();

      const check = await harness.openStore();
      const doc = (id: string) => check.getDocument(key(id));
      const table = await doc('TABLE-1');
      expect(table.head).toMatchObject({ version: 100n, deleted: false });
      expect(table.points.length).toBeGreaterThan(0);
      const chair = await doc('CHAIR-2');
      expect(chair.head).toMatchObject({ version: 200n, deleted: false });
      expect(chair.points.map((p) => p.payload.source_version)).toEqual(chair.points.map(() => '200'));
      const bench = await doc('BENCH-3');
      expect(bench.head).toMatchObject({ version: 310n, deleted: false });
      expect(bench.points[0]!.payload.text_hash).toBe(before['BENCH-3']!.points[0]!.payload.text_hash);
      expect(bench.points.map((p) => p.payload.text).join(' ')).toContain('made to last');
      const ghost = await doc('GHOST-9');
      expect(ghost.head).toMatchObject({ deleted: true });
      expect(ghost.points).toEqual([]);
      expect(await check.countPoints({ tenant: TENANT })).toBe((await Promise.all(Object.keys(versions).map(doc))).reduce((sum, d) => sum + d.points.length, 0));
      expect(await harness.dlqDepth()).toEqual({});
    });

    it('then finds the store in sync again, exit code 0', async () => {
      const { code, report, err } = await reconcile();
      expect(code, err).toBe(0);
      expect(report.drift).toEqual([]);
      expect(report.totals).toMatchObject({ source: 5, store: 5, inSync: 5 });
    });
  });

  it('runs again and again with --every until it is stopped, and then exits 0', async () => {
    const child = spawn(process.execPath, [RAGSYNC_BIN, 'reconcile', 'changes', '--json', '--every', '1s'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KAFKA_BROKERS: process.env.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL, REDIS_URL: process.env.REDIS_URL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const runs = () => out.split('"inSync"').length - 1;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fewer than 2 runs within 90 s: ${err}`)), 90_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (runs() < 2) return;
        clearTimeout(timer);
        resolve();
      });
    });
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', resolve);
      child.kill('SIGTERM');
    });
    expect(code, err).toBe(0);
    expect(runs()).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('refuses an unknown entity type as a usage error, exit code 2', async () => {
    const { code, err } = await runCli(['reconcile', 'changes', '--type', 'widget'], env);
    expect(code).toBe(2);
    expect(err).toContain('--type must be one of');
  });
});
