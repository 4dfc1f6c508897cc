import { describe, expect, it } from 'vitest';
import { buildPoints } from '../../../src/stores/point-payload.js';
import type { PointToWrite } from '../../../src/stores/point-payload.js';
import { headsTable, inParts, pointsSchema, pointsTable, sqlString, toPointToWrite, toScore, whereOf } from '../../../src/stores/lancedb/tables.js';
import { makeVectorSet } from '../../support/vector-sets.js';

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

describe('LanceDB rows built as Arrow columns', () => {
  const keys = ['', 'acme/product/plain/1', "acme/product/o'neil/1", 'acme/product/naïve café/2', 'acme/cms_page/日本語/1', 'acme/product/😀/1'];

  it('encodes every string as UTF-8, multi-byte characters and empty strings included', () => {
    const heads = keys.map((key, i) => ({ doc_key: key, live: i % 2 === 0, head: JSON.stringify({ doc_key: key, version: String(i) }) }));
    const table = headsTable(heads);
    expect(table.numRows).toBe(keys.length);
    expect(table.toArray().map((row) => ({ ...row.toJSON() }))).toEqual(heads);
  });

  it('packs booleans one bit per row, across byte boundaries', () => {
    const live = Array.from({ length: 21 }, (_, i) => i % 3 !== 1);
    const table = headsTable(live.map((value, i) => ({ doc_key: `k${i}`, live: value, head: '{}' })));
    expect(Array.from(table.getChild('live')!.toArray() as Iterable<boolean>)).toEqual(live);
  });

  it('writes each point with its vector, its payload as JSON and the filterable fields as columns', () => {
    const points = buildPoints(makeVectorSet({ entityId: 'naïve café', storeId: 3, version: 7n, chunks: 3, title: 'Étagère 日本' }), {});
    const table = pointsTable(pointsSchema(8, 'cosine', 'm'), points);
    const rows = table.toArray();
    expect(rows.map((row) => [row.id, row.doc_key, row.tenant, row.doc_type, row.store_id, row.chunk_index])).toEqual(
      points.map((p) => [p.id, p.payload.doc_key, 'acme', 'product', 3, p.payload.chunk_index]),
    );
    expect(rows.map((row) => JSON.parse(row.payload as string))).toEqual(points.map((p) => p.payload));
    expect(rows.map((row) => toPointToWrite(row as unknown as Record<string, unknown>))).toEqual(points);
  });

  it('refuses a point whose vector does not have the dimension of the table', () => {
    const points = buildPoints(makeVectorSet({ entityId: 'p1', version: 1n }), {});
    expect(() => pointsTable(pointsSchema(4, 'cosine', 'm'), points)).toThrow(/has 8 values, the table 4/);
  });
});

describe('LanceDB writes in parts', () => {
  const point = (docKey: string, chunk: number) => ({ id: `${docKey}#${chunk}`, payload: { doc_key: docKey } }) as unknown as PointToWrite;
  const ids = (parts: PointToWrite[][]) => parts.map((part) => part.map((p) => p.id));

  it('writes about 4 MiB of vectors per commit: 2,730 points at 384 dimensions', () => {
    const points = Array.from({ length: 3000 }, (_, i) => point(`d${i}`, 0));
    expect(inParts(points, pointsSchema(384, 'cosine', 'm')).map((part) => part.length)).toEqual([2730, 270]);
    expect(inParts([], pointsSchema(384, 'cosine', 'm'))).toEqual([]);
  });

  it('keeps the points of one document in one part, even when they were apart or exceed a part', () => {
    // Two points per part at this dimension (4 MiB of float32 vectors).
    const schema = pointsSchema(512 * 1024, 'cosine', 'm');
    const points = [point('a', 0), point('b', 0), point('b', 1), point('a', 1), point('c', 0), point('c', 1), point('c', 2), point('d', 0), point('e', 0)];
    expect(ids(inParts(points, schema))).toEqual([['a#0', 'a#1'], ['b#0', 'b#1'], ['c#0', 'c#1', 'c#2'], ['d#0', 'e#0']]);
  });
});
