import type { ChangeMessage } from '../../core/changes.js';
import { itemToMessages } from '../items/to-messages.js';
import { validationFailure, type ItemFailure, type ParsedBody, type ValidationFailure } from './payload.js';

/**
 * The version of item `index` of a body sent at `timestampMicros`:
 *
 *   source_version = timestamp in microseconds × 1000 + index
 *
 * Magento builds a batch from its queue in order, so a later item of the same batch (the same
 * entity saved again) wins over an earlier one, and any item of a later batch wins over every item
 * of an earlier one. The result stays below 2^63 until the year 2262. Every connector uses this
 * nanosecond scale (epoch ms × 1e6 + a sub-index), so a tenant can move an entity between
 * connectors without its versions going backwards.
 */
export function itemVersion(timestampMicros: bigint, index: number): bigint {
  return timestampMicros * 1000n + BigInt(index);
}

export interface DecodedWebhook {
  batchId: string | null;
  timestampMicros: bigint;
  itemCount: number;
  messages: ChangeMessage[];
}

export type DecodeResult = { ok: true; decoded: DecodedWebhook } | { ok: false; failure: ValidationFailure };

/**
 * Maps every item of a parsed body to its change messages, or reports every problem of the body
 * at once (envelope fields and data fields, by item index): all or nothing, so a 400 answer means
 * nothing of the body was published.
 */
export function decodeWebhook(body: ParsedBody, tenant: string, stores: readonly number[]): DecodeResult {
  // Without a readable timestamp the data is still checked, so the sender sees every problem.
  const micros = body.timestampMicros ?? 0n;
  const occurredAt = Number(micros / 1000n);
  const messages: ChangeMessage[] = [];
  const failures: ItemFailure[] = [];
  body.items.forEach((parsed, index) => {
    if (!parsed.ok) {
      failures.push({ index, fields: parsed.issues });
      return;
    }
    const result = itemToMessages(parsed.item, { tenant, stores, sourceVersion: itemVersion(micros, index), occurredAt });
    if (result.ok) messages.push(...result.messages);
    else failures.push({ index, fields: result.issues });
  });
  if (body.fields.length > 0 || failures.length > 0 || body.timestampMicros === null) {
    return { ok: false, failure: validationFailure(body.fields, failures) };
  }
  return { ok: true, decoded: { batchId: body.batchId, timestampMicros: micros, itemCount: body.items.length, messages } };
}
