import { connect, type Connection, type Table } from '@lancedb/lancedb';
import { SystemError } from '../../core/errors.js';
import type { PointChanges, StoreBackend } from '../guarded-store.js';
import { decodeHead, encodeHead, isLive } from '../version-guard.js';
import type { CollectionSpec, HeadRecord, PointFilter, SearchHit, SearchQuery, StoredPoint } from '../vector-store.js';
import { edge, specOf } from './edge.js';
import {
  fromRow,
  headsSchema,
  pointsSchema,
  type PointRow,
  sqlString,
  toLanceDistance,
  toRow,
  toScore,
  whereOf,
} from './tables.js';

export interface LanceDbStoreOptions {
  /** Directory of the database; created when missing. */
  path: string;
  /** Name of the points table; heads live in `<collection>_heads`. */
  collection: string;
  /**
   * Every write adds a table version and a small data file, and reads slow down with their number;
   * after this many document writes the tables are compacted and versions older than ten minutes
   * removed. 50 keeps a write near 35 ms on a 2-core machine (500 let it grow past 150 ms by 300
   * documents). @defaultValue 50
   */
  optimizeEveryWrites?: number;
}

const KEEP_VERSIONS_MS = 10 * 60_000;
/** Keys per `IN (…)` list: keeps one SQL predicate a reasonable size. */
const KEYS_PER_QUERY = 500;

function inChunks<T>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += KEYS_PER_QUERY) chunks.push(items.slice(i, i + KEYS_PER_QUERY));
  return chunks;
}

/** LanceDB on local disk: the embedded default when no Qdrant URL is configured. */
export class LanceDbBackend implements StoreBackend {
  readonly name = 'lancedb';
  private db: Connection | undefined;
  private points: Table | undefined;
  private heads: Table | undefined;
  private spec: CollectionSpec | undefined;
  private writesSinceOptimize = 0;

  constructor(private readonly options: LanceDbStoreOptions) {}

  /** Counts a write and compacts both tables when due. */
  private async wrote(): Promise<void> {
    if (++this.writesSinceOptimize < (this.options.optimizeEveryWrites ?? 50)) return;
    this.writesSinceOptimize = 0;
    const cleanupOlderThan = new Date(Date.now() - KEEP_VERSIONS_MS);
    for (const table of [await this.pointsTable(), await this.headsTable()]) {
      try {
        await table.optimize({ cleanupOlderThan });
      } catch {
        // Compaction can lose a commit race with a concurrent write; the data is intact and the
        // next round compacts again, so a record's write must not fail for it.
      }
    }
  }

  async connect(): Promise<void> {
    // Strong consistency: the store stage, `search` and status may be separate connections (or
    // processes) on one folder; without it a reader keeps the table version it first saw.
    this.db = await edge('connect', () => connect(this.options.path, { readConsistencyInterval: 0 }));
  }

  async close(): Promise<void> {
    this.points?.close();
    this.heads?.close();
    this.db?.close();
    this.points = this.heads = this.db = undefined;
  }

  knownSpec(): CollectionSpec | undefined {
    return this.spec;
  }

  private connection(): Connection {
    if (this.db === undefined) throw new SystemError('lancedb store used before connect()', { code: 'lancedb_not_connected' });
    return this.db;
  }

  async ensureCollection(spec: CollectionSpec): Promise<void> {
    const db = this.connection();
    const names = await edge('list tables', () => db.tableNames());
    const { collection } = this.options;
    if (!names.includes(collection)) {
      await edge('create table', () => db.createEmptyTable(collection, pointsSchema(spec.dimension, spec.distance, spec.modelId)));
    }
    if (!names.includes(`${collection}_heads`)) {
      await edge('create heads table', () => db.createEmptyTable(`${collection}_heads`, headsSchema));
    }
    const existing = specOf(await (await this.pointsTable()).schema());
    if (existing.dimension !== spec.dimension || existing.distance !== spec.distance) {
      throw new SystemError(
        `lancedb table "${collection}" has dimension ${existing.dimension} and distance ${existing.distance}; ` +
          `the embedder needs ${spec.dimension} and ${spec.distance}: use a new collection`,
        { code: 'store_dimension_mismatch' },
      );
    }
    if (existing.modelId !== '' && existing.modelId !== spec.modelId) {
      throw new SystemError(
        `lancedb table "${collection}" holds vectors of model ${existing.modelId}; the embedder is ${spec.modelId}: ` +
          'use the same embedder, or fill a new collection (RAGSYNC_COLLECTION) with the new model',
        { code: 'store_model_mismatch' },
      );
    }
    this.spec = existing;
  }

  private async pointsTable(): Promise<Table> {
    this.points ??= await this.open(this.options.collection);
    return this.points;
  }

  private async headsTable(): Promise<Table> {
    this.heads ??= await this.open(`${this.options.collection}_heads`);
    return this.heads;
  }

  private async open(name: string): Promise<Table> {
    const db = this.connection();
    const names = await edge('list tables', () => db.tableNames());
    if (!names.includes(name)) {
      throw new SystemError(`lancedb table "${name}" does not exist under ${this.options.path}: run the store bootstrap`, {
        code: 'store_collection_missing',
      });
    }
    return edge('open table', () => db.openTable(name));
  }

  async readHeads(docKeys: readonly string[]): Promise<Map<string, HeadRecord>> {
    const heads = await this.headsTable();
    const found = new Map<string, HeadRecord>();
    for (const keys of inChunks(docKeys)) {
      const rows = await edge('read heads', () => heads.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).select(['head']).limit(keys.length).toArray());
      for (const row of rows as Array<Record<string, unknown>>) {
        const head = decodeHead(JSON.parse(String(row.head)));
        found.set(head.doc_key, head);
      }
    }
    return found;
  }

  async writeHeads(heads: readonly HeadRecord[]): Promise<void> {
    const table = await this.headsTable();
    const rows = heads.map((head) => ({ doc_key: head.doc_key, live: isLive(head), head: JSON.stringify(encodeHead(head)) }));
    await edge('write heads', () => table.mergeInsert('doc_key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows));
    await this.wrote();
  }

  /**
   * At most three commits for a whole batch: the new points (merge on id), the removal of
   * superseded points, the payload updates. Payload updates rewrite rows that exist (merge with
   * no insert), so an aspect can never bring back a chunk that a save or delete removed.
   */
  async writePoints(changes: PointChanges): Promise<void> {
    const table = await this.pointsTable();
    if (changes.upserts.length > 0) {
      const rows = changes.upserts.map(toRow);
      await edge('upsert points', () => table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows));
    }
    if (changes.replace.length > 0) {
      const docs = changes.replace.map((r) => sqlString(r.docKey));
      // Point ids embed their document (UUIDv5 of `docKey#n`), so one list of kept ids serves all.
      const keep = changes.replace.flatMap((r) => r.keepIds.map(sqlString));
      const predicate = `doc_key IN (${docs.join(', ')})${keep.length > 0 ? ` AND id NOT IN (${keep.join(', ')})` : ''}`;
      await edge('delete points', () => table.delete(predicate));
    }
    if (changes.payload.length > 0) {
      const fields = new Map(changes.payload.map((p) => [p.docKey, p.fields]));
      const rows: PointRow[] = [];
      for (const keys of inChunks([...fields.keys()])) {
        const stored = await edge('read points', () => table.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).toArray());
        for (const point of (stored as Array<Record<string, unknown>>).map(fromRow)) {
          rows.push(toRow({ ...point, payload: { ...point.payload, ...fields.get(point.payload.doc_key) } }));
        }
      }
      if (rows.length > 0) await edge('set payload', () => table.mergeInsert('id').whenMatchedUpdateAll().execute(rows));
    }
    await this.wrote();
  }

  async search(query: SearchQuery): Promise<SearchHit[]> {
    const table = await this.pointsTable();
    const distance = this.spec?.distance ?? specOf(await table.schema()).distance;
    let search = table.vectorSearch(Array.from(query.vector)).distanceType(toLanceDistance(distance)).limit(query.limit);
    const where = whereOf(query);
    if (where !== undefined) search = search.where(where);
    const rows = await edge('search', () => search.toArray());
    return rows.map((row: Record<string, unknown>) => {
      const point = fromRow(row);
      return { id: point.id, score: toScore(distance, Number(row._distance)), payload: point.payload };
    });
  }

  async docPoints(docKey: string): Promise<StoredPoint[]> {
    const table = await this.pointsTable();
    const rows = await edge('read points', () => table.query().where(`doc_key = ${sqlString(docKey)}`).toArray());
    return rows.map(fromRow);
  }

  async countPoints(filter?: PointFilter): Promise<number> {
    const table = await this.pointsTable();
    return edge('count points', () => table.countRows(whereOf(filter)));
  }

  async deadHeads(): Promise<HeadRecord[]> {
    const heads = await this.headsTable();
    const rows = await edge('list heads', () => heads.query().where('live = false').select(['head']).toArray());
    return rows.map((row: Record<string, unknown>) => decodeHead(JSON.parse(String(row.head))));
  }

  async deleteHeads(docKeys: string[]): Promise<void> {
    const heads = await this.headsTable();
    await edge('delete heads', () => heads.delete(`doc_key IN (${docKeys.map(sqlString).join(', ')})`));
    await this.wrote();
  }

  async liveDocKeys(): Promise<string[]> {
    const heads = await this.headsTable();
    const rows = await edge('list heads', () => heads.query().where('live = true').select(['doc_key']).toArray());
    return rows.map((row: Record<string, unknown>) => String(row.doc_key)).sort();
  }
}
