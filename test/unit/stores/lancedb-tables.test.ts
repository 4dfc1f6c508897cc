import { describe, expect, it } from 'vitest';
import { sqlString, toScore, whereOf } from '../../../src/stores/lancedb/tables.js';

describe('LanceDB predicates', () => {
  it('doubles quotes inside string literals', () => {
    expect(sqlString("o'neil")).toBe("'o''neil'");
    expect(sqlString("'; DROP TABLE x; --")).toBe("'''; DROP TABLE x; --'");
  });

  it('joins the given filter fields with AND and leaves out the rest', () => {
    expect(whereOf({ tenant: 'acme', storeId: 2 })).toBe("tenant = 'acme' AND store_id = 2");
    expect(whereOf({})).toBeUndefined();
    expect(() => whereOf({ storeId: 1.5 })).toThrow(/not an integer/);
  });

  it("reports scores in Qdrant's convention", () => {
    expect(toScore('cosine', 0.25)).toBeCloseTo(0.75);
    expect(toScore('euclid', 9)).toBe(3);
  });
});
