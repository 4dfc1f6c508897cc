import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** One line of the catalog change log (the seed's `catalog_changes.jsonl`, with scope and version). */
export interface ChangeLogEntry {
  timestamp: string;
  tenant: string;
  type: string;
  store_id: number;
  change_type: 'added' | 'modified' | 'deleted';
  id: string;
  fields_changed?: string[];
  source_version: string;
}

export const DEFAULT_CHANGE_LOG = '.data/catalog-changes.ndjson';

/**
 * Appends entries to an NDJSON file. A file (not a Redis stream) because it is the audit trail an
 * operator greps and ships with the rest of the logs; Kafka already holds every change itself.
 * Entries are written after Kafka acknowledged them.
 */
export async function appendChangeLog(path: string, entries: readonly ChangeLogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, entries.map((e) => JSON.stringify(e)).join('\n') + '\n', 'utf8');
}
