/**
 * The seed design's queue (Magento plan §3): a `rag_sync_queue` table with one row per entity,
 * store and action (`INSERT … ON CONFLICT … DO UPDATE`, the Postgres form of MySQL's
 * `ON DUPLICATE KEY UPDATE`: saving an entity again before the queue is processed refreshes its row,
 * so only one sync happens, with the latest data), and the entity's current data in a table of its
 * own, as the Magento database holds it. Embedded Postgres (PGlite, WebAssembly).
 */
import { PGlite } from '@electric-sql/pglite';

export interface QueueItem {
  id: number;
  entityType: string;
  entityId: string;
  storeId: number;
  action: 'save' | 'delete';
  attempts: number;
  /** When the newest save of the entity was queued (epoch ms): the start of its latency. */
  updatedAt: number;
}

export class SyncQueue {
  private constructor(readonly db: PGlite) {}

  static async open(dataDir?: string): Promise<SyncQueue> {
    const db = dataDir ? new PGlite(dataDir) : new PGlite();
    await db.exec(`
      CREATE TABLE IF NOT EXISTS rag_sync_queue (
        id              SERIAL PRIMARY KEY,
        entity_type     VARCHAR(50) NOT NULL,
        entity_id       VARCHAR(255) NOT NULL,
        store_id        INTEGER NOT NULL DEFAULT 0,
        action          VARCHAR(20) NOT NULL,
        priority        SMALLINT NOT NULL DEFAULT 5,
        status          VARCHAR(20) NOT NULL DEFAULT 'pending',
        attempts        SMALLINT NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        last_attempt_at DOUBLE PRECISION,
        error_message   TEXT,
        created_at      DOUBLE PRECISION NOT NULL,
        updated_at      DOUBLE PRECISION NOT NULL,
        UNIQUE (entity_type, entity_id, store_id, action)
      );
      CREATE INDEX IF NOT EXISTS idx_status_priority ON rag_sync_queue (status, priority, created_at);
      CREATE TABLE IF NOT EXISTS catalog_entity (
        entity_type VARCHAR(50) NOT NULL,
        entity_id   VARCHAR(255) NOT NULL,
        store_id    INTEGER NOT NULL,
        data        JSONB NOT NULL,
        version     BIGINT NOT NULL,
        PRIMARY KEY (entity_type, entity_id, store_id)
      );`);
    return new SyncQueue(db);
  }

  /**
   * What the seed's save observer does: the entity's row is saved (here: its current data) and the
   * queue row inserted, or refreshed when one is already there.
   */
  async save(entityType: string, entityId: string, storeId: number, data: Record<string, unknown>, version: bigint, at: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO catalog_entity (entity_type, entity_id, store_id, data, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (entity_type, entity_id, store_id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version`,
        [entityType, entityId, storeId, JSON.stringify(data), version.toString()],
      );
      await tx.query(
        `INSERT INTO rag_sync_queue (entity_type, entity_id, store_id, action, status, created_at, updated_at) VALUES ($1, $2, $3, 'save', 'pending', $4, $4)
         ON CONFLICT (entity_type, entity_id, store_id, action) DO UPDATE SET updated_at = EXCLUDED.updated_at, status = 'pending', attempts = 0, next_attempt_at = 0`,
        [entityType, entityId, storeId, at],
      );
    });
  }

  /** One cron run's batch: the oldest due pending rows by priority, marked `processing`. */
  async claim(limit: number, now: number): Promise<QueueItem[]> {
    const { rows } = await this.db.query<{ id: number; entity_type: string; entity_id: string; store_id: number; action: 'save' | 'delete'; attempts: number; updated_at: number }>(
      `UPDATE rag_sync_queue SET status = 'processing', last_attempt_at = $2
       WHERE id IN (SELECT id FROM rag_sync_queue WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY priority, created_at LIMIT $1)
       RETURNING id, entity_type, entity_id, store_id, action, attempts, updated_at`,
      [limit, now],
    );
    return rows
      .map((r) => ({ id: r.id, entityType: r.entity_type, entityId: r.entity_id, storeId: r.store_id, action: r.action, attempts: r.attempts, updatedAt: r.updated_at }))
      .sort((a, b) => a.id - b.id);
  }

  /** The entity's data as it is now (the seed's data builders read the current entity). */
  async current(item: QueueItem): Promise<{ data: Record<string, unknown>; version: bigint } | undefined> {
    const { rows } = await this.db.query<{ data: Record<string, unknown>; version: string }>(
      'SELECT data, version FROM catalog_entity WHERE entity_type = $1 AND entity_id = $2 AND store_id = $3',
      [item.entityType, item.entityId, item.storeId],
    );
    const row = rows[0];
    return row ? { data: row.data, version: BigInt(row.version) } : undefined;
  }

  /** Sent: done, unless the entity was saved again meanwhile (its row is pending again then). */
  async sent(item: QueueItem, at: number): Promise<void> {
    await this.db.query(`UPDATE rag_sync_queue SET status = 'sent', updated_at = $2 WHERE id = $1 AND status = 'processing'`, [item.id, at]);
  }

  /** A failure: back to pending after the next delay of `delaysMs`, or `dead` after the last. */
  async failed(item: QueueItem, error: string, now: number, delaysMs: readonly number[]): Promise<void> {
    const attempts = item.attempts + 1;
    const delay = delaysMs[attempts - 1];
    if (delay === undefined) {
      await this.db.query(`UPDATE rag_sync_queue SET status = 'dead', attempts = $2, error_message = $3 WHERE id = $1`, [item.id, attempts, error]);
    } else {
      await this.db.query(`UPDATE rag_sync_queue SET status = 'pending', attempts = $2, error_message = $3, next_attempt_at = $4 WHERE id = $1`, [item.id, attempts, error, now + delay]);
    }
  }

  async countByStatus(): Promise<Record<string, number>> {
    const { rows } = await this.db.query<{ status: string; n: number }>('SELECT status, COUNT(*)::int AS n FROM rag_sync_queue GROUP BY status');
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
