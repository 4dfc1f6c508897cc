import type { z } from 'zod';
import type { ChangeType } from '../core/entities.js';
import { CHANGE_SCHEMAS, ORDER_SCHEMA } from './catalogue.js';

export interface ValidationIssue {
  /** Dotted path of the field, e.g. `attributes.color` or `items.0.sku`; empty for the value itself. */
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

type ChangeValue<K extends ChangeType | 'order'> = K extends ChangeType
  ? z.output<(typeof CHANGE_SCHEMAS)[K]['zod']>
  : z.output<(typeof ORDER_SCHEMA)['zod']>;

/** zod issues as `{ path, message }`, the message starting with the field it names. */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return { path, message: path ? `${path}: ${issue.message}` : issue.message };
  });
}

/**
 * Validates a change value at the edge (webhook, publish CLI, catalog files) and fills the defaults.
 * A value that passes also encodes with the type's Avro schema (test/unit/schemas proves it).
 */
export function validateChange<K extends ChangeType | 'order'>(type: K, value: unknown): ValidationResult<ChangeValue<K>> {
  const schema = type === 'order' ? ORDER_SCHEMA : CHANGE_SCHEMAS[type as ChangeType];
  if (schema === undefined) return { ok: false, issues: [{ path: '', message: `unknown change type "${String(type)}"` }] };
  const result = schema.zod.safeParse(value);
  if (result.success) return { ok: true, value: result.data as ChangeValue<K> };
  return { ok: false, issues: toIssues(result.error) };
}
