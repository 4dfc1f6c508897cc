import { connect, type Connection, type Table } from '@lancedb/lancedb';
import { SystemError } from '../../core/errors.js';
import type { StoreBackend } from '../guarded-store.js';
import type { PointToWrite } from '../point-payload.js';
import { decodeHead, encodeHead, isLive } from '../version-guard.js';
import type { CollectionSpec, HeadRecord, PointFilter, SearchHit, SearchQuery, StoredPoint } from '../vector-store.js';
import { edge, specOf } from './edge.js';
import {
  fromRow,
  headsSchema,
  pointsSchema,
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

  async readHead(docKey: string): Promise<HeadRecord | undefined> {
    const heads = await this.headsTable();
    const rows = await edge('read head', () => heads.query().where(`doc_key = ${sqlString(docKey)}`).limit(1).toArray());
    return rows[0] === undefined ? undefined : decodeHead(JSON.parse(String(rows[0].head)));
  }

  async writeHead(head: HeadRecord): Promise<void> {
    const heads = await this.headsTable();
    const row = { doc_key: head.doc_key, live: isLive(head), head: JSON.stringify(encodeHead(head)) };
    await edge('write head', () => heads.mergeInsert('doc_key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([row]));
    await this.wrote();
  }

  async upsertPoints(points: PointToWrite[]): Promise<void> {
    const table = await this.pointsTable();
    const rows = points.map(toRow);
    await edge('upsert points', () => table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows));
  }

  async deleteDocPointsExcept(docKey: string, keepIds: string[]): Promise<void> {
    const table = await this.pointsTable();
    let predicate = `doc_key = ${sqlString(docKey)}`;
    if (keepIds.length > 0) predicate += ` AND id NOT IN (${keepIds.map(sqlString).join(', ')})`;
    await edge('delete points', () => table.delete(predicate));
  }

  async setDocPayload(docKey: string, fields: Record<string, unknown>): Promise<void> {
    // Payload is one JSON column: read, merge, write back with the same vectors (no re-embedding).
    const points = await this.docPoints(docKey);
    if (points.length === 0) return;
    await this.upsertPoints(points.map((point) => ({ ...point, payload: { ...point.payload, ...fields } })));
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
