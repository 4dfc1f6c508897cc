import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { mapEntity } from '../../../src/consumers/map/mappers/index.js';
import { DOC_TYPES } from '../../../src/consumers/map/doc-type.js';
import type { EntityType } from '../../../src/core/entities.js';
import { parsePublishLine } from '../../../src/producers/publish/ndjson-line.js';
import { parseEvalSet } from '../../../src/retrieval/eval-set.js';

const read = (name: string) => readFileSync(new URL(`../../../samples/${name}`, import.meta.url), 'utf8');

/** Doc key → doc type of every document the sample catalog indexes under the default filters. */
function indexedDocuments(): Map<string, string> {
  const filters = loadConfig({ env: {} }).filters;
  const now = Date.UTC(2026, 11, 1);
  const documents = new Map<string, string>();
  read('catalog.ndjson')
    .split('\n')
    .filter((text) => text.trim() !== '')
    .forEach((text, i) => {
      const result = parsePublishLine(text, i + 1, { now, storesOf: () => [1] });
      if (!result.ok) throw new Error(`catalog line ${i + 1} rejected`);
      for (const message of result.messages) {
        if (message.type === 'product_price' || message.type === 'product_stock') continue;
        const outcome = mapEntity(message.type as EntityType, message.value, { filters, now });
        if (outcome.kind === 'document') documents.set(message.key, outcome.document.docType);
      }
    });
  return documents;
}

describe('the evaluation set of the sample catalog', () => {
  const queries = parseEvalSet(read('eval.jsonl'), 'samples/eval.jsonl');
  const documents = indexedDocuments();

  it('has at least 60 queries, each asked once', () => {
    expect(queries.length).toBeGreaterThanOrEqual(60);
    expect(new Set(queries.map((q) => q.query.toLowerCase())).size).toBe(queries.length);
  });

  it('expects only documents the sample catalog indexes', () => {
    const unknown = queries.flatMap((q) => q.expect.filter((key) => !documents.has(key)).map((key) => `${q.query}: ${key}`));
    expect(unknown).toEqual([]);
  });

  it('asks for every document the sample catalog indexes at least once', () => {
    const expected = new Set(queries.flatMap((q) => q.expect));
    expect([...documents.keys()].filter((key) => !expected.has(key))).toEqual([]);
  });

  it('covers every doc type', () => {
    const covered = new Set(queries.flatMap((q) => q.expect.map((key) => documents.get(key))));
    expect([...covered].sort()).toEqual([...DOC_TYPES].sort());
  });

  it('has synonyms, typos, attribute questions, facts in tables or lists, and policy questions', () => {
    const count = (tag: string) => queries.filter((q) => q.tags.includes(tag)).length;
    for (const tag of ['synonym', 'typo', 'attribute', 'table', 'policy']) expect(count(tag), tag).toBeGreaterThanOrEqual(5);
  });
});
