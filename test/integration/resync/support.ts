import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { formatKey } from '../../../src/core/keys.js';
import { ALIAS_FILE } from '../../../src/stores/lancedb/alias.js';
import { runCli, type CliResult } from '../../support/cli.js';
import type { PipelineHarness } from '../../support/pipeline-harness.js';

/** What tests of `ragsync resync` share: catalogue lines with known versions, the CLI, direct reads of a store. */
export const TENANT = 'shop';

export const productKey = (id: string, tenant = TENANT) => formatKey({ tenant, entityType: 'product', entityId: id, storeId: 1 });

export function saveLine(id: string, version: number, tenant = TENANT): string {
  return JSON.stringify({
    type: 'product',
    tenant,
    store_id: 1,
    id,
    action: 'save',
    source_version: version,
    data: { sku: id, name: `Trail item ${id}`, description: `<p>Item ${id}, version ${version}: a sturdy piece of outdoor kit.</p>`, price: 10, currency: 'EUR' },
  });
}

export function deleteLine(id: string, version: number, tenant = TENANT): string {
  return JSON.stringify({ type: 'product', tenant, store_id: 1, id, action: 'delete', source_version: version });
}

/** The newest version per key of what was published; deleted keys absent. */
export class Expected {
  private readonly latest = new Map<string, { version: number; deleted: boolean }>();

  record(id: string, version: number, deleted: boolean, tenant = TENANT): void {
    const key = productKey(id, tenant);
    const seen = this.latest.get(key);
    if (seen === undefined || seen.version <= version) this.latest.set(key, { version, deleted });
  }

  live(): Map<string, string> {
    return new Map([...this.latest].filter(([, v]) => !v.deleted).map(([k, v]) => [k, String(v.version)]));
  }
}

/** The environment that points the CLI at the harness's topics, Redis prefix and store. */
export function cliEnv(harness: PipelineHarness, extra: Record<string, string> = {}): Record<string, string> {
  const { config } = harness;
  return {
    RAGSYNC_TOPIC_PREFIX: config.topics.prefix,
    RAGSYNC_REDIS_PREFIX: config.redis.keyPrefix,
    LANCEDB_PATH: config.store.lancedbPath,
    RAGSYNC_COLLECTION: config.store.collection,
    RAGSYNC_PARTITIONS: String(config.topics.partitions),
    EMBEDDER: 'hashing',
    LOG_LEVEL: 'error',
    QDRANT_URL: config.store.qdrantUrl ?? '',
    ...extra,
  };
}

export async function resync(harness: PipelineHarness, args: string[], extra: Record<string, string> = {}): Promise<CliResult & { events: Array<Record<string, unknown>> }> {
  const result = await runCli(['resync', ...args, '--progress', 'json', '--yes'], cliEnv(harness, extra));
  const events = result.out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { ...result, events };
}

/**
 * doc_key → source_version of every point of a collection, read past ragsync: LanceDB with its own
 * client on the table, Qdrant by scrolling the test server's REST API. Every point of a document
 * must carry one version (else the document reads as `mixed`).
 */
export async function readCollection(harness: PipelineHarness, collection: string): Promise<{ docs: Map<string, string>; points: number; duplicateIds: number }> {
  const docs = new Map<string, string>();
  const ids = new Set<string>();
  let points = 0;
  const add = (id: string, payload: { doc_key: string; source_version: string }) => {
    points += 1;
    ids.add(id);
    const seen = docs.get(payload.doc_key);
    docs.set(payload.doc_key, seen === undefined || seen === payload.source_version ? payload.source_version : 'mixed');
  };
  if (harness.qdrant) {
    let offset: unknown;
    do {
      const response = await fetch(`${harness.qdrant.url}/collections/${collection}/points/scroll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ limit: 256, with_payload: true, with_vector: false, ...(offset === undefined || offset === null ? {} : { offset }) }),
      });
      if (!response.ok) throw new Error(`scroll ${collection}: ${response.status} ${await response.text()}`);
      const page = (await response.json()) as { result: { points: Array<{ id: string; payload: { doc_key: string; source_version: string } }>; next_page_offset: unknown } };
      for (const point of page.result.points) add(String(point.id), point.payload);
      offset = page.result.next_page_offset;
    } while (offset !== undefined && offset !== null);
    return { docs, points, duplicateIds: points - ids.size };
  }
  const db = await connect(harness.config.store.lancedbPath);
  try {
    const table = await db.openTable(collection);
    const rows = await table.query().select(['id', 'payload']).toArray();
    for (const row of rows as Array<{ id: string; payload: string }>) add(String(row.id), JSON.parse(row.payload) as { doc_key: string; source_version: string });
    table.close();
  } finally {
    db.close();
  }
  return { docs, points, duplicateIds: points - ids.size };
}

/** What the configured collection name stands for, read past ragsync (the alias file, or Qdrant's alias list). */
export async function aliasTarget(harness: PipelineHarness): Promise<string | undefined> {
  const name = harness.config.store.collection;
  if (harness.qdrant) {
    const response = await fetch(`${harness.qdrant.url}/aliases`);
    const body = (await response.json()) as { result: { aliases: Array<{ alias_name: string; collection_name: string }> } };
    return body.result.aliases.find((a) => a.alias_name === name)?.collection_name;
  }
  try {
    return (JSON.parse(readFileSync(join(harness.config.store.lancedbPath, ALIAS_FILE), 'utf8')) as Record<string, { table: string; holdWritesUntil?: number }>)[name]?.table;
  } catch {
    return undefined;
  }
}
