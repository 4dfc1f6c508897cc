import { readdirSync, readFileSync } from 'node:fs';
import type { Schema } from 'avsc';

/**
 * The Avro schemas live as `.avsc` files under `src/schemas/avro/<name>/v<n>.avsc`. Every version
 * ever released stays: records written with it live for years in compacted topics, and a test
 * decodes a record written with each one. The highest version is the reader schema the code is
 * built against. A new version must be FULL_TRANSITIVE compatible with all earlier ones (new fields
 * need a default, null first in unions); the registry enforces it at `registerAll`.
 */
export const SCHEMA_NAMES = [
  'product',
  'category',
  'cms_page',
  'cms_block',
  'promotion',
  'product_price',
  'product_stock',
  'order',
  'document',
  'chunk_set',
  'vector_set',
  'map_state',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

const ROOT = new URL('./avro/', import.meta.url);

/** Released versions of one schema, ascending, e.g. `[1, 2]`. */
export function releasedVersions(name: SchemaName): number[] {
  return readdirSync(new URL(`${name}/`, ROOT))
    .map((file) => /^v([1-9][0-9]*)\.avsc$/.exec(file)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The parsed `.avsc` of one released version (the latest when `version` is omitted). */
export function loadAvsc(name: SchemaName, version?: number): Schema {
  const versions = releasedVersions(name);
  const chosen = version ?? versions[versions.length - 1];
  if (chosen === undefined || !versions.includes(chosen)) {
    throw new Error(`no released Avro schema ${name} v${version ?? '?'} (have ${versions.join(', ') || 'none'})`);
  }
  return JSON.parse(readFileSync(new URL(`${name}/v${chosen}.avsc`, ROOT), 'utf8')) as Schema;
}
