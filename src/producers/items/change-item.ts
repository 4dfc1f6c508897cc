import { ASPECT_TYPES, ENTITY_TYPES, type ChangeType } from '../../core/entities.js';
import { describe, IssueCollector, type FieldIssue } from './fields.js';
import { MAX_DATA_FIELDS, MAX_ID_BYTES, textProblem } from './limits.js';

/**
 * One change as senders describe it (a Magento webhook item, a `ragsync publish` line, an ERP
 * event): which entity, what happened, and for a save the entity's data. Connectors parse their
 * own envelopes into this shape and share everything after it, so every input path validates
 * with the same rules and reports the same errors.
 */
export interface ChangeItem {
  type: ChangeType;
  /** NFC-normalised entity id (a Magento id, a CMS identifier, a SKU). */
  id: string;
  action: 'save' | 'delete';
  storeId: number;
  /** Required for a save; ignored for a delete. */
  data?: Record<string, unknown>;
}

export type ItemResult = { ok: true; item: ChangeItem } | { ok: false; issues: FieldIssue[] };

export interface ParseItemOptions {
  /** Types this input accepts; Magento sends entities only, `publish` also accepts aspects. */
  types?: readonly ChangeType[];
  /** Used when the item has no `type` (single-entity routes know it from the URL). */
  defaultType?: ChangeType;
  /** Set by `/delete` routes. */
  forceAction?: 'delete';
  /** Used when the item has no `store_id` (the Magento plan's batch items have none). */
  defaultStoreId?: number;
  /** Prefix of issue paths, e.g. `` for a line of NDJSON. */
  pathPrefix?: string;
}

const INT32_MAX = 2_147_483_647;

export const ALL_TYPES: readonly ChangeType[] = [...ENTITY_TYPES, ...ASPECT_TYPES];

/**
 * Why an entity id cannot be used, or undefined when it can. The length is checked first, on the
 * raw string: an id is hashed into a partition and percent-encoded into the key, and neither should
 * ever run over a megabyte of text.
 */
export function idProblem(id: string): string | undefined {
  if (id.length > MAX_ID_BYTES) return `is longer than ${MAX_ID_BYTES} bytes (UTF-8)`;
  return textProblem(id.normalize('NFC'), MAX_ID_BYTES);
}

/** Reads `type`, `id`, `action`, `store_id` and `data` of one raw item. */
export function parseChangeItem(raw: unknown, options: ParseItemOptions = {}): ItemResult {
  const issues = new IssueCollector(options.pathPrefix ?? '');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, issues: [{ path: options.pathPrefix ?? '', message: `expected an object, got ${describe(raw)}` }] };
  }
  const r = raw as Record<string, unknown>;
  const types = options.types ?? ALL_TYPES;

  const type = r.type ?? options.defaultType;
  if (typeof type !== 'string' || !types.includes(type as ChangeType)) {
    issues.add('type', type === undefined ? 'is required' : `must be one of ${types.join(', ')}, got ${describe(type)}`);
  } else if (options.defaultType !== undefined && type !== options.defaultType) {
    issues.add('type', `is "${type}" but this route takes ${options.defaultType}`);
  }

  let id: string | undefined;
  if (typeof r.id === 'string' && r.id.length > 0) {
    const problem = idProblem(r.id);
    if (problem === undefined) id = r.id.normalize('NFC');
    else issues.add('id', problem);
  } else if (typeof r.id === 'number' && Number.isFinite(r.id)) id = String(r.id);
  else issues.add('id', r.id === undefined || r.id === '' ? 'is required' : `expected a string or number, got ${describe(r.id)}`);

  const action = options.forceAction ?? r.action;
  if (action !== 'save' && action !== 'delete') {
    issues.add('action', action === undefined ? 'is required' : `must be save or delete, got ${describe(action)}`);
  }

  let storeId = options.defaultStoreId ?? 0;
  if (r.store_id !== undefined && r.store_id !== null) {
    const n = typeof r.store_id === 'string' && /^\d{1,10}$/.test(r.store_id) ? Number(r.store_id) : r.store_id;
    // Values carry store_id as an Avro int: a delete (no value) must not take a store a save could not.
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= INT32_MAX) storeId = n;
    else issues.add('store_id', `expected an integer from 0 to ${INT32_MAX}, got ${describe(r.store_id)}`);
  }

  let data: Record<string, unknown> | undefined;
  if (action === 'save') {
    if (typeof r.data === 'object' && r.data !== null && !Array.isArray(r.data)) {
      const fields = Object.keys(r.data).length;
      if (fields <= MAX_DATA_FIELDS) data = r.data as Record<string, unknown>;
      else issues.add('data', `has ${fields} fields; at most ${MAX_DATA_FIELDS}`);
    } else issues.add('data', r.data === undefined || r.data === null ? 'is required for a save' : `expected an object, got ${describe(r.data)}`);
  }

  if (!issues.ok) return { ok: false, issues: issues.issues };
  return { ok: true, item: { type: type as ChangeType, id: id!, action: action as 'save' | 'delete', storeId, data } };
}
