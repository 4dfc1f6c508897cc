/**
 * How the runner turns record values into objects and back. Implemented over the Schema Registry
 * (Avro, Confluent wire format) in serde.ts; `topic` is the full Kafka topic name.
 */
export interface RecordCodec {
  /** Throws a PermanentError when the bytes cannot be decoded (poison record). */
  decode(topic: string, bytes: Buffer): Promise<unknown>;
  /** Throws a PermanentError when the value does not match the topic's schema. */
  encode(topic: string, value: unknown): Promise<Buffer>;
}
