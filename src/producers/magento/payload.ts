import { isUtf8 } from 'node:buffer';
import { ENTITY_TYPES, type EntityType } from '../../core/entities.js';
import { parseChangeItem, type ItemResult } from '../items/change-item.js';
import { describe, scalarText, type FieldIssue } from '../items/fields.js';
import { textProblem } from '../items/limits.js';
import { parseEventTime, type EventTimeWindow } from '../items/timestamp.js';

/**
 * The bodies the Magento RagSync module sends (module README "Webhook Payload Format", plan
 * §5.3–5.4): a single entity `{type,id,action,store_id,timestamp,data}` or a batch
 * `{type?:"batch",batch_id,timestamp,items:[…]}`. Plan-format items carry no `store_id`: they
 * mean the default scope, store 0. A `signature` field in the body is ignored: the signature is
 * checked from the header over the raw bytes.
 */
/** Bounds the work of one request; the module sends 50 items per request by default. */
export const MAX_ITEMS = 1000;

export interface ItemFailure {
  index: number;
  /** The item's type and id, when they could be read: what the sender needs to find it. */
  type?: string;
  id?: string;
  fields: FieldIssue[];
}

/** The 400 answer: body-level `fields`, per-item `items`. */
export interface ValidationFailure {
  error: 'validation_failed' | 'malformed_json' | 'invalid_utf8';
  message: string;
  fields: FieldIssue[];
  items: ItemFailure[];
}

export type Route = { kind: 'batch' } | { kind: 'single'; type: EntityType; forceAction?: 'delete' };

/** The envelope read in full: body-level issues in `fields`, each item parsed on its own. */
export interface ParsedBody {
  fields: FieldIssue[];
  /** Null for single-entity bodies and batches without an id: such bodies are not deduplicated. */
  batchId: string | null;
  timestampMicros: bigint | null;
  items: ItemResult[];
  /** Per item: its own `updated_at` in microseconds, or null when it has none (module 1.0 sends none). */
  updatedAtMicros: (bigint | null)[];
  /** Per item: its type and id as sent, to name it in answers. */
  identities: ItemIdentity[];
}

export type BodyResult = ParsedBody | { ok: false; failure: ValidationFailure };

export function validationFailure(fields: FieldIssue[], items: ItemFailure[] = []): ValidationFailure {
  const count = fields.length + items.length;
  return { error: 'validation_failed', message: `${count} problem(s) in the request body; nothing was published`, fields, items };
}

/** The batch_id, at most this long: it travels as a record header and in a Redis key. */
const MAX_BATCH_ID_LENGTH = 200;

/**
 * Reads a body; only unreadable JSON fails here, everything else is reported by decodeWebhook.
 * Event times (`timestamp`, `updated_at`) must lie within `window` of the server clock.
 */
export function parseWebhookBody(raw: Buffer, route: Route, window: EventTimeWindow): BodyResult {
  // JSON is UTF-8 (RFC 8259 §8.1); decoding other bytes would turn them into U+FFFD silently and
  // store a text the sender never wrote.
  if (!isUtf8(raw)) return { ok: false, failure: { error: 'invalid_utf8', message: 'the body is not valid UTF-8', fields: [], items: [] } };
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    return { ok: false, failure: { error: 'malformed_json', message: `the body is not valid JSON: ${(error as Error).message}`, fields: [], items: [] } };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, failure: validationFailure([{ path: '', message: `expected a JSON object, got ${describe(json)}` }]) };
  }
  const body = json as Record<string, unknown>;
  const fields: FieldIssue[] = [];

  const timestamp = parseEventTime(body.timestamp, window);
  if (!timestamp.ok) fields.push({ path: 'timestamp', message: timestamp.message });

  // The batch route also takes a single-entity body, so a module posting everything to /batch works.
  const single = route.kind === 'single' || (body.items === undefined && body.type !== 'batch');
  let rawItems: unknown[] = [];
  let batchId: string | null = null;
  if (single) {
    rawItems = [body];
  } else {
    if (body.type !== undefined && body.type !== 'batch') fields.push({ path: 'type', message: `must be "batch" for a batch body, got ${describe(body.type)}` });
    if (body.batch_id !== undefined && body.batch_id !== null) {
      const problem = typeof body.batch_id === 'string' && body.batch_id.length > 0 && body.batch_id.length <= MAX_BATCH_ID_LENGTH ? textProblem(body.batch_id) : `expected a non-empty string of at most ${MAX_BATCH_ID_LENGTH} characters`;
      if (problem === undefined) batchId = body.batch_id as string;
      else fields.push({ path: 'batch_id', message: problem });
    }
    if (!Array.isArray(body.items)) fields.push({ path: 'items', message: body.items === undefined ? 'is required' : `expected a list, got ${describe(body.items)}` });
    else if (body.items.length === 0) fields.push({ path: 'items', message: 'is empty' });
    else if (body.items.length > MAX_ITEMS) fields.push({ path: 'items', message: `has ${body.items.length} items; at most ${MAX_ITEMS} per request` });
    else rawItems = body.items;
  }

  const updatedAtMicros: (bigint | null)[] = [];
  const identities: ItemIdentity[] = [];
  const results = rawItems.map((rawItem): ItemResult => {
    identities.push(identityOf(rawItem, route));
    const updatedAt = readUpdatedAt(rawItem, window);
    updatedAtMicros.push(updatedAt.ok ? updatedAt.micros : null);
    let result: ItemResult;
    try {
      result = parseChangeItem(rawItem, {
        types: ENTITY_TYPES,
        defaultType: route.kind === 'single' ? route.type : undefined,
        forceAction: route.kind === 'single' ? route.forceAction : undefined,
        defaultStoreId: 0,
      });
    } catch (error) {
      // Readers are written never to throw; should one still, the item is refused, not the request.
      result = { ok: false, issues: [{ path: '', message: `could not be read: ${(error as Error).message}` }] };
    }
    if (updatedAt.ok) return result;
    const issue = { path: 'updated_at', message: updatedAt.message };
    return result.ok ? { ok: false, issues: [issue] } : { ok: false, issues: [...result.issues, issue] };
  });
  return { fields, batchId, timestampMicros: timestamp.ok ? timestamp.micros : null, items: results, updatedAtMicros, identities };
}

/** An item's type and id as sent, short, for answers and logs; empty where they are not scalars. */
export interface ItemIdentity {
  type?: string;
  id?: string;
}

function identityOf(rawItem: unknown, route: Route): ItemIdentity {
  if (typeof rawItem !== 'object' || rawItem === null || Array.isArray(rawItem)) return {};
  const item = rawItem as Record<string, unknown>;
  const short = (value: unknown) => {
    const text = scalarText(value);
    return text === undefined ? undefined : (text.length > 100 ? `${text.slice(0, 100)}…` : text).replace(/\p{Cs}/gu, '\ufffd');
  };
  const type = short(Object.hasOwn(item, 'type') ? item.type : undefined) ?? (route.kind === 'single' ? route.type : undefined);
  const id = short(Object.hasOwn(item, 'id') ? item.id : undefined);
  return { ...(type === undefined ? {} : { type }), ...(id === undefined ? {} : { id }) };
}

/**
 * An item's own change time, optional: the module's payload (README, plan §5.4) has none, but its
 * queue row keeps `updated_at`, the time of the entity's last save, which a module build may add
 * to the item. Same spellings as `timestamp`.
 */
function readUpdatedAt(rawItem: unknown, window: EventTimeWindow): { ok: true; micros: bigint | null } | { ok: false; message: string } {
  if (typeof rawItem !== 'object' || rawItem === null || Array.isArray(rawItem) || !Object.hasOwn(rawItem, 'updated_at')) return { ok: true, micros: null };
  const raw = (rawItem as Record<string, unknown>).updated_at;
  if (raw === undefined || raw === null || raw === '') return { ok: true, micros: null };
  const parsed = parseEventTime(raw, window);
  return parsed.ok ? { ok: true, micros: parsed.micros } : parsed;
}
