import { connect } from '@lancedb/lancedb';
import { expect } from 'vitest';
import type { ExpectedDoc } from './workload.js';

/**
 * What a LanceDB folder holds, read with LanceDB's own client (not through ragsync's store): every
 * document's head (version, deleted) and its points (id, title).
 */
export interface StoreContents {
  heads: Map<string, { version: bigint; deleted: boolean }>;
  points: Map<string, Array<{ id: string; title: string; chunkIndex: number }>>;
}

interface HeadJson {
  version: string;
  deleted?: boolean;
}

export async function readLanceDb(path: string, collection: string): Promise<StoreContents> {
  const db = await connect(path);
  const names = await db.tableNames();
  const heads = new Map<string, { version: bigint; deleted: boolean }>();
  const points = new Map<string, Array<{ id: string; title: string; chunkIndex: number }>>();
  if (names.includes(`${collection}_heads`)) {
    const table = await db.openTable(`${collection}_heads`);
    for (const row of (await table.query().select(['doc_key', 'head']).toArray()) as Array<{ doc_key: string; head: string }>) {
      const head = JSON.parse(row.head) as HeadJson;
      heads.set(row.doc_key, { version: BigInt(head.version), deleted: head.deleted === true });
    }
  }
  if (names.includes(collection)) {
    const table = await db.openTable(collection);
    for (const row of (await table.query().select(['id', 'doc_key', 'chunk_index', 'payload']).toArray()) as Array<{ id: string; doc_key: string; chunk_index: number; payload: string }>) {
      const list = points.get(row.doc_key) ?? [];
      list.push({ id: row.id, title: (JSON.parse(row.payload) as { title: string }).title, chunkIndex: row.chunk_index });
      points.set(row.doc_key, list);
    }
  }
  db.close();
  return { heads, points };
}

/** How far the store is from the expected state. */
export interface Drift {
  /** Keys whose newest version is not in the store (missing, or an older version there). */
  lost: string[];
  /** Keys whose store version is older than expected while newer ones were applied (counted by the monitor), or documents that should be gone. */
  stale: string[];
  /** Points written twice (the same id twice), or points of a chunk index the document has twice. */
  duplicates: number;
  /** Documents the workload never wrote. */
  unexpected: string[];
}

export function compare(contents: StoreContents, expected: ReadonlyMap<string, ExpectedDoc>): Drift {
  const lost: string[] = [];
  const stale: string[] = [];
  let duplicates = 0;
  for (const [key, want] of expected) {
    const head = contents.heads.get(key);
    const points = contents.points.get(key) ?? [];
    if (want.deleted) {
      // A delete must leave no point; its head (a delete marker) may stay.
      if (points.length > 0 || (head && !head.deleted && head.version >= want.version)) stale.push(key);
      continue;
    }
    if (!head || head.version < want.version || head.deleted) {
      lost.push(key);
      continue;
    }
    if (head.version > want.version || points.length === 0 || points.some((p) => p.title !== want.title)) stale.push(key);
  }
  for (const [, points] of contents.points) {
    duplicates += points.length - new Set(points.map((p) => p.id)).size;
    duplicates += points.length - new Set(points.map((p) => p.chunkIndex)).size;
  }
  const unexpected = [...contents.points.keys()].filter((k) => !expected.has(k));
  return { lost, stale, duplicates, unexpected };
}

/**
 * Reads a store's heads every `everyMs` while a test runs (with the store's own client, through
 * `readHeads`) and counts every time a key's version is lower than one seen before for it: a
 * version that went backwards, even for a moment.
 */
export class HeadsMonitor {
  private readonly highest = new Map<string, bigint>();
  readonly regressions: Array<{ key: string; seen: bigint; before: bigint }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  reads = 0;

  constructor(
    private readonly readHeads: () => Promise<StoreContents['heads']>,
    private readonly everyMs = 500,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.read()).catch(() => undefined);
    }, this.everyMs);
  }

  private async read(): Promise<void> {
    const heads = await this.readHeads();
    this.reads += 1;
    for (const [key, head] of heads) {
      const before = this.highest.get(key);
      if (before !== undefined && head.version < before) this.regressions.push({ key, seen: head.version, before });
      if (before === undefined || head.version > before) this.highest.set(key, head.version);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.read();
  }
}

/** A {@link HeadsMonitor} of a LanceDB folder's heads table, read with LanceDB's own client. */
export class VersionMonitor extends HeadsMonitor {
  constructor(path: string, collection: string, everyMs = 500) {
    super(async () => (await readLanceDb(path, collection)).heads, everyMs);
  }
}

/**
 * The checks every scenario ends with: nothing lost, nothing stale, no point twice, nothing the
 * workload never wrote; and, given the monitor that watched the heads during the run, that it
 * really read them and saw no version go backwards.
 */
export function expectNoDrift(drift: Drift, monitor?: HeadsMonitor): void {
  if (monitor) expect(monitor.reads, 'the heads were read while the worker ran').toBeGreaterThan(2);
  expect(drift.lost, 'keys whose newest version is missing').toEqual([]);
  expect(drift.stale, 'keys left at another version or content').toEqual([]);
  if (monitor) expect(monitor.regressions, 'versions that went backwards').toEqual([]);
  expect(drift.duplicates, 'points written twice').toBe(0);
  expect(drift.unexpected, 'documents the workload never wrote').toEqual([]);
}
