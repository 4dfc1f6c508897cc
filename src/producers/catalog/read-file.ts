import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { PermanentError } from '../../core/errors.js';

export type CatalogFormat = 'json' | 'ndjson' | 'csv';

export type CatalogRecord = Record<string, unknown>;

/**
 * Reads a catalog file into plain records, one per row (docs/connectors/catalog-files.md):
 * - JSON: an array of objects, or an object holding one (`{"products":[…]}`, `{"items":[…]}`);
 * - NDJSON (`.ndjson`, `.jsonl`): one object per line, blank lines skipped;
 * - CSV (`.csv`): a header row names the fields; empty cells are absent; list fields
 *   (categories, image_alt_texts, parent_names) hold `|`-separated values; columns named
 *   `attributes.<name>` fill the attributes map.
 * The format follows the extension unless given. A file that cannot be parsed throws a
 * PermanentError naming the file and the line.
 */
export async function readCatalogFile(path: string, format?: CatalogFormat): Promise<CatalogRecord[]> {
  const text = await readFile(path, 'utf8');
  return parseCatalogText(text, format ?? formatOf(path), path);
}

export function formatOf(path: string): CatalogFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  return 'json';
}

export function parseCatalogText(text: string, format: CatalogFormat, name = 'catalog'): CatalogRecord[] {
  if (format === 'csv') return fromCsv(text, name);
  if (format === 'ndjson') return fromNdjson(text, name);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new PermanentError(`${name}: not valid JSON: ${(cause as Error).message}`, { code: 'catalog_unreadable', cause });
  }
  const list = Array.isArray(json) ? json : Object.values((json ?? {}) as object).find(Array.isArray);
  if (!Array.isArray(list)) throw new PermanentError(`${name}: expected a JSON array of records (or an object holding one)`, { code: 'catalog_unreadable' });
  return list.map((row, i) => asRecord(row, `${name}: record ${i + 1}`));
}

function fromNdjson(text: string, name: string): CatalogRecord[] {
  const records: CatalogRecord[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(asRecord(JSON.parse(line), `${name}:${i + 1}`));
    } catch (cause) {
      if (cause instanceof PermanentError) throw cause;
      throw new PermanentError(`${name}:${i + 1}: not valid JSON: ${(cause as Error).message}`, { code: 'catalog_unreadable', cause });
    }
  });
  return records;
}

function fromCsv(text: string, name: string): CatalogRecord[] {
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (cause) {
    throw new PermanentError(`${name}: not valid CSV: ${(cause as Error).message}`, { code: 'catalog_unreadable', cause });
  }
  return rows.map((row) => {
    const record: CatalogRecord = {};
    const attributes: Record<string, string> = {};
    for (const [column, cell] of Object.entries(row)) {
      if (cell === '') continue;
      if (column.startsWith('attributes.')) attributes[column.slice('attributes.'.length)] = cell;
      else record[column] = cell;
    }
    if (Object.keys(attributes).length > 0) record.attributes = attributes;
    return record;
  });
}

function asRecord(value: unknown, where: string): CatalogRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PermanentError(`${where}: expected an object`, { code: 'catalog_unreadable' });
  }
  return value as CatalogRecord;
}
