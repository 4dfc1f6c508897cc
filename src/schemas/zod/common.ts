import { z } from 'zod';
import { TENANT_PATTERN } from '../../core/keys.js';

/**
 * Building blocks shared by the zod schemas. Each one mirrors an Avro type of the `.avsc` files,
 * including the `ragsync-constrained` attributes, so zod and Avro accept and reject the same values
 * (test/unit/schemas proves it). Messages say what is expected; the issue path names the field.
 */
export const tenant = z
  .string({ error: 'expected a string' })
  .regex(TENANT_PATTERN, { error: `must match ${TENANT_PATTERN.source} (lowercase letters, digits, _ and -, at most 63)` });

/** Avro `int`: a 32-bit integer. */
export const int32 = z.int32({ error: 'expected a 32-bit integer' });
export const nonNegativeInt = int32.min(0, { error: 'must be a non-negative integer' });

/** Avro `long` without a logical type: a JS bigint (64 bits). */
export const long = z.int64({ error: 'expected a bigint (Avro long)' });

/** Avro `long` / `timestamp-millis`: epoch milliseconds as a safe integer. */
export const timestampMillis = z.int({ error: 'expected epoch milliseconds (an integer)' });

export const nullableString = z.string({ error: 'expected a string or null' }).nullable().default(null);
export const nullableDouble = z.number({ error: 'expected a number or null' }).nullable().default(null);

const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
/** `YYYY-MM-DD` or null. */
export const nullableDate = z.string({ error: 'expected a date string or null' }).regex(DATE, { error: 'expected YYYY-MM-DD' }).nullable().default(null);

/** One string out of a fixed set, carried as an Avro string (so a new symbol is not a breaking change). */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

export const stringArray = z.array(z.string({ error: 'expected a string' }), { error: 'expected an array of strings' });

/** The fields every change event starts with (docs/design.md §2). */
export const changeIdentity = {
  tenant,
  store_id: nonNegativeInt,
  entity_id: z.string({ error: 'expected a string' }).min(1, { error: 'must not be empty' }),
  source_version: long,
  occurred_at: timestampMillis,
};
