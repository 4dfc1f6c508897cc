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

/**
 * Avro values in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
 * binary), with the Schema Registry under TopicNameStrategy (`<topic>-value`).
 *
 * Encoding checks the value against the topic's reader schema first (including the edge
 * constraints), so a wrong value fails as a PermanentError naming its fields before anything is
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
    for (const logical of logicalTopics) {
      if (schemaForTopic(logical)) await this.schemaId(this.fullName(logical));
    }
  }

  async encode(topic: string, value: unknown): Promise<Buffer> {
    const writer = this.writerOf(topic);
    this.check(topic, writer, value);
    writer.id ??= await this.schemaId(topic);
    return this.frame(writer.id, writer.type, value);
  }

  /**
   * `encode` without an await once the topic's schema id is known (undefined before: use `encode`),
   * for callers that encode many records in a row. Throws as `encode` does.
   */
  encodeRegistered(topic: string, value: unknown): Buffer | undefined {
    const writer = this.writerOf(topic);
    if (writer.id === undefined) return undefined;
    this.check(topic, writer, value);
    return this.frame(writer.id, writer.type, value);
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

  private check(topic: string, writer: Writer, value: unknown): void {
    const invalid = invalidAvroPaths(writer.type, value);
    if (invalid.length > 0) {
      throw new PermanentError(`value for ${topic} does not match schema ${writer.name}: invalid field(s) ${invalid.join(', ')}`, {
        code: 'schema_mismatch',
      });
    }
  }

  /**
   * Magic byte, schema id and the Avro bytes of `value` in one buffer. The value is written into a
   * reused scratch buffer and copied out once; one that does not fit is written again into a buffer
   * of its exact size, so the scratch buffer never grows.
   */
  private frame(id: number, type: Type, value: unknown): Buffer {
    const scratch = this.scratch;
    const end = type.encode(value, scratch, HEADER_BYTES);
    let out: Buffer;
    if (end >= 0) {
      out = Buffer.allocUnsafe(end);
      scratch.copy(out, HEADER_BYTES, HEADER_BYTES, end);
    } else {
      // A negative end is how many bytes were missing.
      out = Buffer.allocUnsafe(scratch.length - end);
      type.encode(value, out, HEADER_BYTES);
    }
    out.writeUInt8(MAGIC_BYTE, 0);
    out.writeInt32BE(id, 1);
    return out;
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
