import { describe, expect, it } from 'vitest';
import { groupByDocument } from '../../../src/stores/group-hits.js';
import type { PointPayload, SearchHit } from '../../../src/stores/vector-store.js';

const hit = (docKey: string, chunk: number, score: number): SearchHit => ({
  id: `${docKey}#${chunk}`,
  score,
  payload: { doc_key: docKey, chunk_id: `${docKey}#${chunk}`, chunk_index: chunk } as PointPayload,
});

describe('grouping search hits by document', () => {
  const hits = [hit('tent', 2, 0.9), hit('tent', 0, 0.8), hit('faq', 1, 0.7), hit('tent', 5, 0.6), hit('mat', 0, 0.5), hit('faq', 3, 0.4)];

  it('keeps one hit per document, where its best chunk ranks, with the best chunk as the hit', () => {
    const documents = groupByDocument(hits);
    expect(documents.map((doc) => [doc.payload.doc_key, doc.id, doc.score])).toEqual([
      ['tent', 'tent#2', 0.9],
      ['faq', 'faq#1', 0.7],
      ['mat', 'mat#0', 0.5],
    ]);
  });

  it('attaches the other matching chunks of each document in rank order', () => {
    const [tent, faq, mat] = groupByDocument(hits);
    expect(tent!.others.map((other) => other.id)).toEqual(['tent#0', 'tent#5']);
    expect(faq!.others.map((other) => other.id)).toEqual(['faq#3']);
    expect(mat!.others).toEqual([]);
  });

  it('returns at most limit documents, still attaching their chunks ranked below the cut', () => {
    const documents = groupByDocument(hits, 1);
    expect(documents.map((doc) => doc.payload.doc_key)).toEqual(['tent']);
    expect(documents[0]!.others).toHaveLength(2);
    expect(groupByDocument([])).toEqual([]);
  });
});
