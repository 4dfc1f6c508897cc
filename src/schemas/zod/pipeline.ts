import { z } from 'zod';
import { ENTITY_TYPES } from '../../core/entities.js';
import type { ChunkSetRecord, DocumentRecord, VectorSetRecord } from '../../core/records.js';
import { long, nonNegativeInt, oneOf, tenant, timestampMillis, int32 } from './common.js';

/** The values of `documents`, `chunks` and `vectors`, exactly the shapes of src/core/records.ts. */
const text = z.string({ error: 'expected a string' });

const header = {
  doc_key: text,
  tenant,
  entity_type: oneOf(ENTITY_TYPES),
  entity_id: text.min(1, { error: 'must not be empty' }),
  store_id: nonNegativeInt,
  source_version: long,
  occurred_at: timestampMillis,
  doc_type: text,
  doc_subtype: text.nullable().default(null),
  title: text,
  url: text.nullable().default(null),
  text_hash: text,
  payload_json: text,
  payload_hash: text,
};

export const documentRecordSchema = z.object({ ...header, text });

const chunk = {
  id: text,
  index: nonNegativeInt,
  text,
  hash: text,
  token_count: nonNegativeInt,
};

export const chunkSetRecordSchema = z.object({
  ...header,
  chunks: z.array(z.object(chunk), { error: 'expected an array of chunks' }),
  total_chunks: nonNegativeInt,
  truncated: z.boolean({ error: 'expected a boolean' }),
});

export const vectorSetRecordSchema = z.object({
  ...header,
  model_id: text,
  dimension: int32.min(1, { error: 'must be at least 1' }),
  chunks: z.array(
    z.object({ ...chunk, vector: z.instanceof(Buffer, { error: 'expected a Buffer of float32 values' }) }),
    { error: 'expected an array of chunks' },
  ),
  touch: z.boolean({ error: 'expected a boolean' }),
});

// The zod output types must be exactly the core record types: a drift fails the type check here.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const agree: [
  Same<z.output<typeof documentRecordSchema>, DocumentRecord>,
  Same<z.output<typeof chunkSetRecordSchema>, ChunkSetRecord>,
  Same<z.output<typeof vectorSetRecordSchema>, VectorSetRecord>,
] = [true, true, true];
void agree;
