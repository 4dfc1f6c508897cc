import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { ChangeType } from '../../../../src/core/entities.js';
import { checkChangeValue } from '../../../../src/producers/items/check-value.js';
import { buildChangeValue } from '../../../../src/producers/items/values.js';
import { CHANGE_SCHEMAS, validateChange } from '../../../../src/schemas/index.js';

const common = { tenant: 'acme', store_id: 1, entity_id: 'LMP-1', source_version: 42n, occurred_at: 1_767_349_800_000 };

/** The least data each type takes. */
const MINIMAL: Record<ChangeType, Record<string, unknown>> = {
  product: { name: 'Lamp' },
  category: { name: 'Lights' },
  cms_page: { title: 'About', content: '' },
  cms_block: { title: 'Footer', content: '<p>Hi</p>' },
  promotion: { name: 'Spring' },
  product_price: { price: 9.5, currency: 'EUR' },
  product_stock: { qty: 3 },
};

function built(type: ChangeType, data: Record<string, unknown>): Record<string, unknown> {
  const result = buildChangeValue(type, data, common);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

// checkChangeValue passes a value on as it was built, not as zod would return it: that is only the
// same when the value already holds every field of the schema, defaults filled.
describe.each(Object.keys(MINIMAL) as ChangeType[])('a %s value built from the least data', (type) => {
  const value = built(type, MINIMAL[type]);

  it('holds every field of the schema, and nothing else', () => {
    const shape = (CHANGE_SCHEMAS[type].zod as unknown as z.ZodObject).shape;
    expect(Object.keys(value).sort()).toEqual(Object.keys(shape).sort());
  });

  it('is what the zod schema makes of it', () => {
    const validated = validateChange(type, value);
    expect(validated.ok && validated.value).toEqual(value);
  });

  it('passes the check unchanged', () => {
    const checked = checkChangeValue(type, value, 'data');
    expect(checked.ok && checked.value).toBe(value);
  });
});

describe('checkChangeValue', () => {
  it('names every field the schema refuses, in the words of the zod schema', () => {
    const value = { ...built('product', { name: 'Lamp' }), visibility: 9, status: 'gone', entity_id: '' };
    expect(checkChangeValue('product', value, 'data')).toEqual({
      ok: false,
      issues: [
        { path: 'id', message: 'must not be empty' },
        { path: 'data.status', message: 'expected one of enabled, disabled' },
        { path: 'data.visibility', message: 'must be 1..4' },
      ],
    });
  });
});

describe('readers of a string map', () => {
  it('keep a __proto__ attribute as an attribute, and the value a plain object', () => {
    const value = built('product', { name: 'Lamp', attributes: JSON.parse('{"__proto__":"x","finish":"brass"}') as unknown });
    const attributes = value.attributes as Record<string, string>;
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(Object.keys(attributes)).toEqual(['__proto__', 'finish']);
    expect(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value).toBe('x');
  });
});
