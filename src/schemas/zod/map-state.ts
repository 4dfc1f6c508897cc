import { z } from 'zod';
import { long, timestampMillis } from './common.js';

/**
 * The value of `map.state`: per key, the newest change the map stage applied (docs/design.md §2).
 * `value` holds the applied change record's wire bytes, so a repair of the change topic republishes
 * exactly what the producer wrote.
 */
export const mapStateRecordSchema = z.object({
  topic: z.string({ error: 'expected a string' }).regex(/^changes\.[a-z][a-z_]*$/u, { error: 'expected a change topic, e.g. changes.product' }),
  source_version: long,
  occurred_at: timestampMillis,
  deleted: z.boolean({ error: 'expected a boolean' }),
  change_offset: long,
  value: z.instanceof(Buffer, { error: 'expected a Buffer (the wire bytes) or null' }).nullable().default(null),
  headers: z.record(z.string(), z.string({ error: 'expected a string' }), { error: 'expected an object of string headers' }),
});

export type MapStateRecord = z.output<typeof mapStateRecordSchema>;
