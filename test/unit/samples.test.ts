import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { mapEntity } from '../../src/consumers/map/mappers/index.js';
import { classifyCmsPage, CMS_DEFAULT, CMS_RULES, ENTITY_DOC_TYPES } from '../../src/consumers/map/doc-type.js';
import type { EntityType } from '../../src/core/entities.js';
import { parseKey } from '../../src/core/keys.js';
import { parsePublishLine, type LineDefaults } from '../../src/producers/publish/ndjson-line.js';
import { htmlToReadableText } from '../../src/text/html-to-text.js';
import { generateEntities, toNdjson, type PublishLine } from '../support/generate-entities.js';

const defaults: LineDefaults = { now: 1_795_000_000_000, storesOf: () => [1] };

const catalogText = readFileSync(new URL('../../samples/catalog.ndjson', import.meta.url), 'utf8');
const catalog = catalogText.split('\n').filter((text) => text.trim() !== '').map((text) => JSON.parse(text) as PublishLine);
const queries = JSON.parse(readFileSync(new URL('../../samples/queries.json', import.meta.url), 'utf8')) as { query: string; expect_doc_type: string; expect_entity_id: string }[];

/** Every line that the publish parser rejects, with its issues; an empty list when all pass. */
function rejected(ndjson: string): { line: number; issues: unknown }[] {
  return ndjson
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => text.trim() !== '')
    .flatMap(({ text, line }) => {
      const result = parsePublishLine(text, line, defaults);
      return result.ok ? [] : [{ line, issues: result.issues }];
    });
}

function docTypeOf(line: PublishLine): string {
  if (line.type === 'cms_page') return classifyCmsPage(line.id, line.data?.document_type_hint as string | undefined).docType;
  if (line.type === 'product_price' || line.type === 'product_stock') return 'product';
  return ENTITY_DOC_TYPES[line.type].docType;
}

/** Ids of the entity lines the map stage filters out under the default filters, at `now`. */
function filteredIds(ndjson: string, now: number): string[] {
  const filters = loadConfig({ env: {} }).filters;
  return ndjson
    .split('\n')
    .filter((text) => text.trim() !== '')
    .flatMap((text, i) => {
      const result = parsePublishLine(text, i + 1, defaults);
      if (!result.ok) throw new Error(`line ${i + 1} rejected`);
      return result.messages.filter((m) => m.type !== 'product_price' && m.type !== 'product_stock');
    })
    .filter((message) => mapEntity(message.type as EntityType, message.value, { filters, now }).kind === 'filtered')
    .map((message) => parseKey(message.key).entityId);
}

const entity = (type: string, id: string) => catalog.find((line) => line.type === type && line.id === id);

describe('the sample catalog', () => {
  it('passes the publish line parser on every line', () => {
    expect(rejected(catalogText)).toEqual([]);
  });

  it('is one shop: tenant demo, store 1, each key saved once per type', () => {
    expect(new Set(catalog.map((line) => `${line.tenant}/${line.store_id}`))).toEqual(new Set(['demo/1']));
    const keys = catalog.map((line) => `${line.type}/${line.id}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('holds about 25 products, 8 categories, 8 pages, 3 blocks and 3 promotions', () => {
    const count = (type: string) => catalog.filter((line) => line.type === type).length;
    expect(count('product')).toBeGreaterThanOrEqual(24);
    expect(count('category')).toBe(8);
    expect(count('cms_page')).toBe(8);
    expect(count('cms_block')).toBe(3);
    expect(count('promotion')).toBe(3);
  });

  it('sends price and stock aspects only for products it defines earlier', () => {
    catalog.forEach((line, i) => {
      if (line.type !== 'product_price' && line.type !== 'product_stock') return;
      expect(catalog.findIndex((other) => other.type === 'product' && other.id === line.id)).toBeLessThan(i);
    });
  });

  it('has a returns page long enough to split into many chunks, in at least 8 headed sections', () => {
    const content = entity('cms_page', 'returns-and-refunds')!.data!.content as string;
    expect(content.match(/<h2>/g)?.length ?? 0).toBeGreaterThanOrEqual(8);
    expect(htmlToReadableText(content).split(/\s+/).length).toBeGreaterThanOrEqual(1500);
  });

  it('is indexed whole except the disabled product, the expired promotion and the inactive one', () => {
    expect(filteredIds(catalogText, Date.parse('2026-11-22T12:00:00Z')).sort()).toEqual(['9002', '9003', 'FH-4005']);
  });

  it('has one active promotion with a coupon, one expired and one inactive', () => {
    const promotions = catalog.filter((line) => line.type === 'promotion').map((line) => line.data!);
    expect(promotions.filter((p) => p.is_active === true && typeof p.coupon_code === 'string' && (p.to_date as string) >= '2026-12-01')).toHaveLength(1);
    expect(promotions.filter((p) => p.is_active === true && (p.to_date as string) < '2026-11-01')).toHaveLength(1);
    expect(promotions.filter((p) => p.is_active === false)).toHaveLength(1);
  });

  it('names, for every sample query, an entity of the catalog whose doc type is the expected one', () => {
    expect(queries.length).toBeGreaterThanOrEqual(5);
    for (const query of queries) {
      const line = catalog.find((l) => l.id === query.expect_entity_id && l.type !== 'product_price' && l.type !== 'product_stock');
      expect(line, query.query).toBeDefined();
      expect(docTypeOf(line!), query.query).toBe(query.expect_doc_type);
    }
  });
});

describe('generateEntities', () => {
  const lines = generateEntities(1000, { tenant: 'gen', seed: 42 });

  it('makes 1000 lines that all pass the publish line parser', () => {
    expect(lines).toHaveLength(1000);
    expect(rejected(toNdjson(lines))).toEqual([]);
  });

  it('gives the same lines for the same seed and different lines for another seed', () => {
    expect(generateEntities(1000, { tenant: 'gen', seed: 42 })).toEqual(lines);
    expect(generateEntities(1000, { tenant: 'gen', seed: 43 })).not.toEqual(lines);
  });

  it('mixes types in the planned shares', () => {
    const count = (type: string) => lines.filter((line) => line.type === type).length;
    expect([count('product'), count('category'), count('cms_page'), count('cms_block'), count('promotion')]).toEqual([600, 150, 100, 100, 50]);
  });

  it('gives every entity a distinct key and a distinct title', () => {
    expect(new Set(lines.map((line) => `${line.type}/${line.id}`)).size).toBe(1000);
    const titles = lines.map((line) => (line.data!.name ?? line.data!.title) as string);
    expect(new Set(titles).size).toBe(1000);
  });

  it('covers every row of the CMS doc-type table, the default included', () => {
    const pages = lines.filter((line) => line.type === 'cms_page');
    const classes = new Set(pages.map((line) => JSON.stringify(classifyCmsPage(line.id))));
    for (const rule of [...CMS_RULES, CMS_DEFAULT]) {
      expect(classes, JSON.stringify(rule)).toContain(JSON.stringify({ docType: rule.docType, docSubtype: rule.docSubtype }));
    }
  });

  it('makes a document of every line under the default filters, whatever the date', () => {
    expect(filteredIds(toNdjson(lines), Date.parse('2030-06-30T00:00:00Z'))).toEqual([]);
  });

  it('has one privacy-policy page, the only text that speaks of personal data', () => {
    const mentions = lines.filter((line) => JSON.stringify(line.data).toLowerCase().includes('personal data'));
    expect(mentions.map((line) => line.id)).toEqual(['privacy-policy']);
  });

  it('uses the tenant and store it is given, and store 1 by default', () => {
    expect(new Set(lines.map((line) => `${line.tenant}/${line.store_id}`))).toEqual(new Set(['gen/1']));
    const [first] = generateEntities(1, { tenant: 'other', seed: 1, storeId: 3 });
    expect(first).toMatchObject({ tenant: 'other', store_id: 3, type: 'cms_page', id: 'privacy-policy' });
  });

  it('writes NDJSON with one line per entity and a final newline', () => {
    const text = toNdjson(lines.slice(0, 3));
    expect(text.split('\n')).toHaveLength(4);
    expect(text.endsWith('\n')).toBe(true);
    expect(toNdjson([])).toBe('');
  });
});
