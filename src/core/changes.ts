import type { ChangeType } from './entities.js';

/**
 * A change as handed over by a connector (webhook, catalog file, ERP bridge, publish CLI) before
 * it becomes a Kafka record on `changes.<type>`. `value` null is a delete (a tombstone); the
 * version and time then travel in the record headers (docs/design.md §2).
 *
 * The value shapes are defined in src/schemas (Avro + zod); connectors build them, the
 * ChangeSink encodes and publishes them.
 */
export interface ChangeMessage<V = Record<string, unknown>> {
  type: ChangeType;
  /** formatKey(...) of the entity; aspects use the key of their product. */
  key: string;
  value: V | null;
  sourceVersion: bigint;
  /** Epoch milliseconds. */
  occurredAt: number;
  headers?: Record<string, string>;
}

/**
 * Where connectors hand their changes over. `publish` resolves only after Kafka acknowledged every
 * record (acks=all); it rejects with a RetryableError when Kafka did not acknowledge within the
 * deadline (the caller answers 503 / retries; records that land later are harmless because the
 * version guard and the batch dedupe absorb a resend), and with a PermanentError naming the record
 * when a value does not match its schema (nothing of the call is published in that case: values are
 * encoded before anything is sent).
 */
export interface ChangeSink {
  publish(messages: ChangeMessage[], options?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
  /** Gets ready for the first `publish` (connections, schemas) without waiting; failures are left to that call. */
  warmUp?(): void;
}
