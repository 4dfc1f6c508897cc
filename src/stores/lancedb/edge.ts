import type { FixedSizeList, Schema } from 'apache-arrow';
import { RagsyncError, SystemError } from '../../core/errors.js';
import type { CollectionSpec, Distance } from '../vector-store.js';
import { METADATA_DISTANCE, METADATA_MODEL } from './tables.js';

/** Local disk failures hit every record alike: pause the stage rather than fill the DLQ. */
export async function edge<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RagsyncError) throw error;
    throw new SystemError(`lancedb ${what} failed: ${error instanceof Error ? error.message : String(error)}`, {
      code: 'lancedb_failed',
      cause: error,
    });
  }
}

/** The collection spec a points table was created with (vector size, distance in metadata). */
export function specOf(schema: Schema): CollectionSpec {
  const vector = schema.fields.find((field) => field.name === 'vector')?.type as FixedSizeList | undefined;
  const distance = schema.metadata.get(METADATA_DISTANCE) as Distance | undefined;
  if (vector === undefined || distance === undefined) {
    throw new SystemError('lancedb table has no vector column or distance: it was not created by ragsync', { code: 'lancedb_schema' });
  }
  return { dimension: vector.listSize, distance, modelId: schema.metadata.get(METADATA_MODEL) ?? '' };
}
