import type { Type } from 'avsc';
import { PermanentError, SystemError } from '../core/errors.js';
import { createDecoder, invalidAvroPaths } from '../schemas/avro-types.js';
import { loadAvsc } from '../schemas/avsc-files.js';
import { schemaForTopic, type ValueSchema } from '../schemas/catalogue.js';
import type { RecordCodec } from './codec.js';
import type { RegistryClient } from './registry.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;
/** Values up to this size are encoded without an allocation of their own beyond the result. */
const SCRATCH_BYTES = 256 * 1024;

interface Writer {
  name: string;
  type: Type;
  id: number | undefined;
}

/** U+FFFD in UTF-8: what Node writes for a lone surrogate. */
const REPLACEMENT_BYTES = Buffer.from('\ufffd', 'utf8');

/**
 * False when the Avro bytes of a framed value (as RegistrySerde writes them) hold no string with
 * a lone UTF-16 surrogate; true when they may, and the value has to be walked to know. avsc writes
 * a string of more than 64 bytes with Node's UTF-8 writer, which turns a lone surrogate into U+FFFD
 * (EF BF BD), and a shorter one code unit by code unit, which turns it into ED A0–BF: a string
 * without one yields neither sequence. Map keys are written the same way. Other bytes (lengths,
 * numbers, `bytes` fields, a real U+FFFD) may hold them too, so true is only a maybe; false is
 * certain. A native search of the encoded bytes instead of a walk of every string of every value.
 */
export function mayHoldLoneSurrogate(framed: Buffer): boolean {
  if (framed.indexOf(REPLACEMENT_BYTES, HEADER_BYTES) >= 0) return true;
  for (let at = framed.indexOf(0xed, HEADER_BYTES); at >= 0; at = framed.indexOf(0xed, at + 1)) {
    const next = framed[at + 1];
    if (next !== undefined && next >= 0xa0 && next <= 0xbf) return true;
  }
  return false;
}

/**
 * Avro values in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
 * binary), with the Schema Registry under TopicNameStrategy (`<topic>-value`).
 *
 * Encoding checks the value against the topic's reader schema (including the edge constraints)
 * as it writes it, so a wrong value fails as a PermanentError naming its fields before anything is
 * sent. Decoding looks the writer schema up by id and resolves it to the reader schema the code was
 * built with (one resolver per writer id, cached), so code always sees one shape whatever version a
 * record was written with. Topics without a schema of their own (DLQ, retry) decode to the writer's
 * shape.
 *
 * Topic names passed in are full Kafka names; the prefix is stripped to find the logical topic.
 */
export class RegistrySerde implements RecordCodec {
  private readonly ids = new Map<string, Promise<number>>();
  private readonly decoders = new Map<string, (payload: Buffer) => unknown>();
  /** Per full topic name: its schema's type and, once registered, its id (looked up once, not per record). */
  private readonly writers = new Map<string, Writer>();
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

  constructor(
    private readonly registry: RegistryClient,
    private readonly options: { prefix: string },
  ) {}

  /**
   * Registers the value schema of every given logical topic (at producer and worker start). A
   * schema the registry refuses as incompatible throws a SystemError naming subject and field.
   */
  async registerAll(logicalTopics: readonly string[]): Promise<void> {
    // At once: each is a round trip or more (a new subject took 0.6 s for the change schemas one after the other).
    await Promise.all(logicalTopics.filter((logical) => schemaForTopic(logical)).map((logical) => this.schemaId(this.fullName(logical))));
  }

  async encode(topic: string, value: unknown): Promise<Buffer> {
    const writer = this.writerOf(topic);
    // Encoded (and so checked) before the schema is registered: a wrong value registers nothing.
    const out = this.frame(topic, writer, 0, value);
    writer.id ??= await this.schemaId(topic);
    out.writeInt32BE(writer.id, 1);
    return out;
  }

  /**
   * `encode` without an await once the topic's schema id is known (undefined before: use `encode`),
   * for callers that encode many records in a row. Throws as `encode` does.
   */
  encodeRegistered(topic: string, value: unknown): Buffer | undefined {
    const writer = this.writerOf(topic);
    if (writer.id === undefined) return undefined;
    return this.frame(topic, writer, writer.id, value);
  }

  private writerOf(topic: string): Writer {
    let writer = this.writers.get(topic);
    if (!writer) {
      const schema = this.schemaOf(topic);
      if (!schema) {
        throw new SystemError(`topic "${topic}" has no value schema (expected one of the ragsync topics)`, { code: 'no_schema_for_topic' });
      }
      writer = { name: schema.name, type: schema.avro(), id: undefined };
      this.writers.set(topic, writer);
    }
    return writer;
  }

  /**
   * Magic byte, schema id and the Avro bytes of `value` in one buffer, or a PermanentError naming
   * the fields of `value` the topic's schema refuses. The value is not checked before it is
   * written: avsc's writers refuse, field by field, every value its `isValid` refuses (each type's
   * `_write` tests what its `_check` tests; test/unit/schemas/agreement.test.ts proves it for every
   * schema), so the check costs nothing for a valid value and the paths are worked out only for a
   * refused one. The value is written into a reused scratch buffer and copied out once; one that
   * does not fit is written again into a buffer of its exact size, so the scratch buffer never grows.
   */
  private frame(topic: string, writer: Writer, id: number, value: unknown): Buffer {
    const { type } = writer;
    const scratch = this.scratch;
    let out: Buffer;
    try {
      const end = type.encode(value, scratch, HEADER_BYTES);
      if (end >= 0) {
        out = Buffer.allocUnsafe(end);
        scratch.copy(out, HEADER_BYTES, HEADER_BYTES, end);
      } else {
        // A negative end is how many bytes were missing.
        out = Buffer.allocUnsafe(scratch.length - end);
        type.encode(value, out, HEADER_BYTES);
      }
    } catch (cause) {
      throw this.mismatch(topic, writer, value, cause);
    }
    out.writeUInt8(MAGIC_BYTE, 0);
    out.writeInt32BE(id, 1);
    return out;
  }

  /** The error for a value the topic's schema refuses, naming its fields. */
  private mismatch(topic: string, writer: Writer, value: unknown, cause: unknown): PermanentError {
    const invalid = invalidAvroPaths(writer.type, value);
    const what = invalid.length > 0 ? `invalid field(s) ${invalid.join(', ')}` : `it cannot be encoded (${(cause as Error).message})`;
    return new PermanentError(`value for ${topic} does not match schema ${writer.name}: ${what}`, { code: 'schema_mismatch', cause });
  }

  async decode(topic: string, bytes: Buffer): Promise<unknown> {
    if (bytes.length < HEADER_BYTES || bytes.readUInt8(0) !== MAGIC_BYTE) {
      throw new PermanentError(`record on ${topic} is not in the Confluent wire format (magic byte 0 and a schema id)`, {
        code: 'not_wire_format',
      });
    }
    const id = bytes.readInt32BE(1);
    const decoder = await this.decoderFor(topic, id);
    try {
      return decoder(bytes.subarray(HEADER_BYTES));
    } catch (cause) {
      throw new PermanentError(`record on ${topic} does not decode with schema id ${id}: ${(cause as Error).message}`, {
        code: 'undecodable',
        cause,
      });
    }
  }

  /** The full Kafka topic name of a logical topic. */
  fullName(logical: string): string {
    return `${this.options.prefix}${logical}`;
  }

  /** The registry subject of a full topic name (TopicNameStrategy). */
  static subject(topic: string): string {
    return `${topic}-value`;
  }

  private logicalName(topic: string): string {
    return topic.startsWith(this.options.prefix) ? topic.slice(this.options.prefix.length) : topic;
  }

  private schemaOf(topic: string): ValueSchema | undefined {
    return schemaForTopic(this.logicalName(topic));
  }

  private schemaId(topic: string): Promise<number> {
    let id = this.ids.get(topic);
    if (!id) {
      const schema = this.schemaOf(topic);
      if (!schema) throw new SystemError(`topic "${topic}" has no value schema`, { code: 'no_schema_for_topic' });
      id = this.registry.register(RegistrySerde.subject(topic), loadAvsc(schema.name));
      // A failed registration is not cached: the next call tries again (the registry may be back).
      id.catch(() => this.ids.delete(topic));
      this.ids.set(topic, id);
    }
    return id;
  }

  private async decoderFor(topic: string, id: number): Promise<(payload: Buffer) => unknown> {
    const reader = this.schemaOf(topic);
    const cacheKey = `${id}|${reader?.name ?? ''}`;
    const cached = this.decoders.get(cacheKey);
    if (cached) return cached;
    const writer: Type = await this.registry.writerType(id);
    let decoder: (payload: Buffer) => unknown;
    try {
      decoder = reader ? createDecoder(reader.avro(), writer) : (payload) => writer.fromBuffer(payload);
    } catch (cause) {
      throw new PermanentError(`schema id ${id} cannot be read as ${reader?.name} (${topic}): ${(cause as Error).message}`, {
        code: 'schema_unresolvable',
        cause,
      });
    }
    this.decoders.set(cacheKey, decoder);
    return decoder;
  }
}
