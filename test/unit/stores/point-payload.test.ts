import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../src/core/errors.js';
import { buildPoints, pointId } from '../../../src/stores/point-payload.js';
import { makeVectorSet } from '../../support/vector-sets.js';

describe('building points from a vector set', () => {
  it('gives each chunk a stable UUIDv5 id from its chunk id', () => {
    expect(pointId('acme/product/p1/1#0')).toBe(pointId('acme/product/p1/1#0'));
    expect(pointId('acme/product/p1/1#0')).not.toBe(pointId('acme/product/p1/1#1'));
    expect(pointId('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('spreads payload_json fields beside the fixed fields, which win on a clash', () => {
    const set = makeVectorSet({ entityId: 'p1', version: (1n << 60n) + 1n, payload: { price: 5, sku: 'P-1', tenant: 'evil' } });
    const [point] = buildPoints(set, { price: 4 });
    expect(point?.payload).toMatchObject({ tenant: 'acme', sku: 'P-1', price: 4, chunk_index: 0, source_version: '1152921504606846977' });
    expect(point?.vector).toHaveLength(8);
  });

  it('rejects payload_json that is not a JSON object as a permanent error', () => {
    const set = { ...makeVectorSet({ entityId: 'p1', version: 1n }), payload_json: '[1,2]' };
    expect(() => buildPoints(set, {})).toThrow(PermanentError);
    expect(() => buildPoints({ ...set, payload_json: '{oops' }, {})).toThrow(/not valid JSON/);
  });

  it('rejects a chunk whose vector length disagrees with the record', () => {
    const set = { ...makeVectorSet({ entityId: 'p1', version: 1n }), dimension: 4 };
    expect(() => buildPoints(set, {})).toThrow(/8 vector values but the record says dimension 4/);
  });
});
