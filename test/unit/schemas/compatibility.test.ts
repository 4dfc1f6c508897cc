import { describe, expect, it } from 'vitest';
import type { Schema } from 'avsc';
import { explainIncompatibility } from '../../../src/schemas/compatibility.js';
import { loadAvsc } from '../../../src/schemas/avsc-files.js';

const v1 = loadAvsc('cms_block') as unknown as { fields: Array<Record<string, unknown>> };
const withFields = (fields: Array<Record<string, unknown>>) => ({ ...v1, fields }) as unknown as Schema;

describe('explainIncompatibility', () => {
  it('finds nothing for a field added with a default', () => {
    expect(explainIncompatibility(v1 as unknown as Schema, withFields([...v1.fields, { name: 'note', type: ['null', 'string'], default: null }]))).toEqual([]);
  });

  it('names a field added without a default', () => {
    expect(explainIncompatibility(v1 as unknown as Schema, withFields([...v1.fields, { name: 'note', type: 'string' }]))).toEqual([
      'field "note" was added without a default',
    ]);
  });

  it('names a removed field that had no default', () => {
    expect(explainIncompatibility(v1 as unknown as Schema, withFields(v1.fields.filter((f) => f.name !== 'title')))).toEqual([
      'field "title" was removed but had no default',
    ]);
  });

  it('names a field whose type cannot be read both ways', () => {
    const changed = v1.fields.map((f) => (f.name === 'title' ? { ...f, type: 'int' } : f));
    expect(explainIncompatibility(v1 as unknown as Schema, withFields(changed))).toEqual([expect.stringMatching(/^field "title" changed its type/)]);
  });
});
