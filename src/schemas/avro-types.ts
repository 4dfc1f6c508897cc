import avro from 'avsc';
import type { Schema, Type } from 'avsc';

/**
 * How ragsync turns Avro schemas into avsc types. Every type (the code's reader schemas, writer
 * schemas fetched from the registry by id, every released `.avsc` in tests) is built with
 * {@link avroTypeOptions}, so values always have one JS shape:
 *
 * - `long` is a JS `bigint` (`source_version` needs all 64 bits; a number would silently lose
 *   precision past 2^53). A `long` with a `logicalType` (e.g. `timestamp-millis`) stays a safe-integer
 *   `number`: epoch milliseconds fit.
 * - `{"logicalType": "ragsync-constrained"}` on a string or int adds the edge constraints the zod
 *   schemas check (`pattern`, `minLength`, `minimum`, `maximum`), so a producer that skips zod still cannot
 *   write a bad tenant or an unknown status. Readers never check them (a record already written is
 *   read as it is) and other Avro implementations ignore the unknown logical type, as the spec says.
 * - `null|X` unions are plain values (`null` or the value), never `{string: …}` wrappers.
 */
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * avsc packs the bytes `toBuffer` returns into the output at once (and writes nothing else in
 * between), so one buffer serves every long instead of an allocation per value written.
 */
const LONG_BYTES = Buffer.alloc(8);

const bigintLong = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => buffer.readBigInt64LE(),
  toBuffer: (value: bigint) => {
    LONG_BYTES.writeBigInt64LE(value);
    return LONG_BYTES;
  },
  fromJSON: (value: unknown) => BigInt(value as string | number | bigint),
  toJSON: (value: bigint) => (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString()),
  isValid: (value: unknown) => typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX,
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

interface ConstrainedSchema {
  type: 'string' | 'int';
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
}

/** See the module comment: write-side constraints that mirror the zod schemas. */
export class ConstrainedType extends avro.types.LogicalType {
  private readonly pattern: RegExp | undefined;
  private readonly minLength: number | undefined;
  private readonly minimum: number | undefined;
  private readonly maximum: number | undefined;

  constructor(schema: Schema, opts?: unknown) {
    super(schema, opts);
    const attrs = schema as unknown as ConstrainedSchema;
    this.pattern = attrs.pattern === undefined ? undefined : new RegExp(attrs.pattern, 'u');
    this.minLength = attrs.minLength;
    this.minimum = attrs.minimum;
    this.maximum = attrs.maximum;
  }

  protected override _fromValue(value: unknown): unknown {
    return value;
  }

  protected override _toValue(value: unknown): unknown {
    if (typeof value === 'string') {
      if (this.pattern && !this.pattern.test(value)) return undefined;
      if (this.minLength !== undefined && value.length < this.minLength) return undefined;
    } else if (typeof value === 'number') {
      if (this.minimum !== undefined && value < this.minimum) return undefined;
      if (this.maximum !== undefined && value > this.maximum) return undefined;
    }
    return value;
  }

  protected override _resolve(writer: Type): unknown {
    const writerBase = avro.Type.isType(writer, 'logical') ? (writer as avro.types.LogicalType).underlyingType : writer;
    const readerBase = this.underlyingType.typeName;
    if (writerBase.typeName === readerBase) return (value: unknown) => value;
    // int written, read where a string is expected is not allowed; anything else is an Avro promotion.
    if (readerBase === 'string' && writerBase.typeName === 'bytes') return (value: Buffer) => value.toString('utf8');
    return undefined;
  }

  protected override _export(exported: Schema): void {
    const schema = exported as unknown as Record<string, unknown>;
    if (this.pattern) schema.pattern = this.pattern.source;
    if (this.minLength !== undefined) schema.minLength = this.minLength;
    if (this.minimum !== undefined) schema.minimum = this.minimum;
    if (this.maximum !== undefined) schema.maximum = this.maximum;
  }
}

function isPlainLong(schema: unknown): boolean {
  if (schema === 'long') return true;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return false;
  const record = schema as { type?: unknown; logicalType?: unknown };
  return record.type === 'long' && record.logicalType === undefined;
}

/**
 * Options for `Type.forSchema` (and the registry client). A fresh object per call: avsc records
 * named types in `opts.registry`, and a shared registry would refuse a second schema with the same
 * record name (writer v1 and reader v2 of one subject).
 */
export function avroTypeOptions(): Partial<avro.ForSchemaOptions> {
  return {
    wrapUnions: 'auto',
    logicalTypes: { 'ragsync-constrained': ConstrainedType },
    typeHook: (schema: Schema) => (isPlainLong(schema) ? bigintLong : undefined),
  } as Partial<avro.ForSchemaOptions>;
}

/** Builds an avsc type from a schema (object or JSON text) the way every ragsync type is built. */
export function avroType(schema: Schema | string): Type {
  const parsed: Schema = typeof schema === 'string' ? (JSON.parse(schema) as Schema) : schema;
  return avro.Type.forSchema(parsed, avroTypeOptions());
}

/** The dotted paths of the fields of `value` that `type` rejects, e.g. `["tenant", "chunks.0.vector"]`. */
export function invalidAvroPaths(type: Type, value: unknown): string[] {
  // avsc checks a value several times faster without an error hook (which tracks the path of every
  // field it visits): the paths are only worked out for a value that fails.
  if (type.isValid(value)) return [];
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '(value)') });
  return paths;
}

/**
 * A decoder from bytes written with `writer` to values shaped by `reader` (Avro schema resolution:
 * new fields get their defaults, removed fields are skipped). Throws when the two cannot be resolved.
 */
export function createDecoder(reader: Type, writer: Type): (payload: Buffer) => unknown {
  if (reader.equals(writer)) return (payload) => reader.fromBuffer(payload);
  const resolver = reader.createResolver(writer);
  return (payload) => reader.fromBuffer(payload, resolver);
}
