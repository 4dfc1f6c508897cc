import type { ChangeMessage } from '../../core/changes.js';
import type { FieldIssue } from '../items/fields.js';
import { itemToMessages } from '../items/to-messages.js';
import { validationFailure, type ItemFailure, type ItemIdentity, type ParsedBody, type ValidationFailure } from './payload.js';
import type { StampResult, VersionClock } from './version-clock.js';

/** One valid item of a body, ready to publish: a store-0 item has a message per store. */
export interface DecodedItem extends ItemIdentity {
  index: number;
  messages: ChangeMessage[];
}

/** A value kept but not understood (an unknown enum value), by item. */
export interface ItemWarning extends ItemIdentity {
  index: number;
  fields: FieldIssue[];
}

export interface DecodedWebhook {
  batchId: string | null;
  timestampMicros: bigint;
  itemCount: number;
  /** The valid items, in body order. */
  items: DecodedItem[];
  /** The invalid items, each with every problem found. */
  failures: ItemFailure[];
  warnings: ItemWarning[];
  /** How the versions of the items were issued (version-clock.ts). */
  stamp: StampResult;
}

/** Not ok: the body as a whole is unusable (its envelope), so no item of it can be published. */
export type DecodeResult = { ok: true; decoded: DecodedWebhook } | { ok: false; failure: ValidationFailure };

/**
 * Maps every item of a parsed body to its change messages. Problems of the envelope (timestamp,
 * batch_id, items) fail the body as a whole, listing the items' problems too so the sender sees
 * everything at once; problems of an item fail that item alone (the server decides what that means
 * for the batch: `webhook.invalidItems`). Versions come from `clock` (version-clock.ts); an item's
 * source time, and its occurred_at, is its own `updated_at` when it has one, else the body's
 * `timestamp`.
 */
export function decodeWebhook(body: ParsedBody, tenant: string, stores: readonly number[], clock: VersionClock): DecodeResult {
  // Without a readable timestamp the data is still checked, so the sender sees every problem.
  const micros = body.timestampMicros ?? 0n;
  const sourceMicros = body.items.map((_, index) => body.updatedAtMicros[index] ?? micros);
  const stamp = clock.stamp(sourceMicros);
  const items: DecodedItem[] = [];
  const failures: ItemFailure[] = [];
  const warnings: ItemWarning[] = [];
  body.items.forEach((parsed, index) => {
    const identity = body.identities[index] ?? {};
    if (!parsed.ok) {
      failures.push({ index, ...identity, fields: parsed.issues });
      return;
    }
    const occurredAt = Number(sourceMicros[index]! / 1000n);
    let result: ReturnType<typeof itemToMessages>;
    try {
      result = itemToMessages(parsed.item, { tenant, stores, sourceVersion: stamp.versions[index]!, occurredAt });
    } catch (error) {
      // Readers are written never to throw; should one still, the item is refused, not the request.
      result = { ok: false, issues: [{ path: '', message: `could not be read: ${(error as Error).message}` }] };
    }
    if (!result.ok) {
      failures.push({ index, ...identity, fields: result.issues });
      return;
    }
    items.push({ index, ...identity, messages: result.messages });
    if (result.warnings.length > 0) warnings.push({ index, ...identity, fields: result.warnings });
  });
  if (body.fields.length > 0 || body.timestampMicros === null) {
    return { ok: false, failure: validationFailure(body.fields, failures) };
  }
  return { ok: true, decoded: { batchId: body.batchId, timestampMicros: micros, itemCount: body.items.length, items, failures, warnings, stamp } };
}
