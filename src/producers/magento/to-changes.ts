import type { ChangeMessage } from '../../core/changes.js';
import { itemToMessages } from '../items/to-messages.js';
import { validationFailure, type ItemFailure, type ParsedBody, type ValidationFailure } from './payload.js';
import type { StampResult, VersionClock } from './version-clock.js';

export interface DecodedWebhook {
  batchId: string | null;
  timestampMicros: bigint;
  itemCount: number;
  messages: ChangeMessage[];
  /** How the versions of the items were issued (version-clock.ts). */
  stamp: StampResult;
}

export type DecodeResult = { ok: true; decoded: DecodedWebhook } | { ok: false; failure: ValidationFailure };

/**
 * Maps every item of a parsed body to its change messages, or reports every problem of the body
 * at once (envelope fields and data fields, by item index): all or nothing, so a 400 answer means
 * nothing of the body was published. Versions come from `clock` (version-clock.ts); an item's
 * source time, and its occurred_at, is its own `updated_at` when it has one, else the body's
 * `timestamp`.
 */
export function decodeWebhook(body: ParsedBody, tenant: string, stores: readonly number[], clock: VersionClock): DecodeResult {
  // Without a readable timestamp the data is still checked, so the sender sees every problem.
  const micros = body.timestampMicros ?? 0n;
  const sourceMicros = body.items.map((_, index) => body.updatedAtMicros[index] ?? micros);
  const stamp = clock.stamp(sourceMicros);
  const messages: ChangeMessage[] = [];
  const failures: ItemFailure[] = [];
  body.items.forEach((parsed, index) => {
    if (!parsed.ok) {
      failures.push({ index, fields: parsed.issues });
      return;
    }
    const occurredAt = Number(sourceMicros[index]! / 1000n);
    const result = itemToMessages(parsed.item, { tenant, stores, sourceVersion: stamp.versions[index]!, occurredAt });
    if (result.ok) messages.push(...result.messages);
    else failures.push({ index, fields: result.issues });
  });
  if (body.fields.length > 0 || failures.length > 0 || body.timestampMicros === null) {
    return { ok: false, failure: validationFailure(body.fields, failures) };
  }
  return { ok: true, decoded: { batchId: body.batchId, timestampMicros: micros, itemCount: body.items.length, messages, stamp } };
}
