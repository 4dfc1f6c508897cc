import { describe, expect, it } from 'vitest';
import { contextHeader, embeddingText, MAX_HEADER_CHARS, type ContextSource } from '../../../src/consumers/chunk/context-header.js';
import { stableStringify } from '../../../src/consumers/map/stable-json.js';

const LIVE = { price: 249.95, special_price: 219.5, special_from_date: '2026-11-01', special_to_date: '2027-01-15', currency: 'EUR', qty: 42, stock_status: 'in_stock' };

function product(payload: Record<string, unknown> = {}, title = 'Cloudbreak 3L waterproof hiking jacket'): ContextSource {
  return {
    title,
    entity_type: 'product',
    doc_type: 'product',
    doc_subtype: null,
    payload_json: stableStringify({
      sku: 'FH-1001',
      categories: ['Outdoor', 'Jackets & rainwear'],
      brand: 'Fernhill',
      attributes: { waterproof_rating: '20000 mm', colour: 'Pine green, Black', size: 'S, M, L, XL' },
      status: 'enabled',
      visibility: 4,
      ...LIVE,
      ...payload,
    }),
  };
}

describe('the context header of a product', () => {
  it('names the product, its type, categories, brand and attributes in code order', () => {
    expect(contextHeader(product())).toBe(
      'Cloudbreak 3L waterproof hiking jacket (product; Outdoor, Jackets & rainwear; brand: Fernhill; colour: Pine green, Black; size: S, M, L, XL; waterproof rating: 20000 mm)',
    );
  });

  it('never holds a live field: price, special price and its dates, currency, quantity, stock status', () => {
    const header = contextHeader(product());
    for (const value of ['249.95', '219.5', '2026-11-01', '2027-01-15', 'EUR', '42', 'in_stock', 'in stock']) expect(header).not.toContain(value);
  });

  it('stays the same when only live fields change', () => {
    const changed = product({ price: 9.99, special_price: null, qty: 0, stock_status: 'out_of_stock', currency: 'CHF' });
    expect(contextHeader(changed)).toBe(contextHeader(product()));
  });

  it('leaves out attributes whose code names a price or stock level', () => {
    const header = contextHeader(product({ attributes: { colour: 'Black', msrp_price: '299', stock_qty: '7', availability: 'in stock', 'Unit cost': '120', costume_theme: 'Pirate' } }));
    expect(header).toContain('colour: Black');
    expect(header).toContain('costume theme: Pirate');
    expect(header).not.toContain('120');
    expect(header).not.toMatch(/299|7|in stock/);
  });

  it('changes with the title, the categories and the attributes', () => {
    const base = contextHeader(product());
    expect(contextHeader(product({}, 'Cloudbreak 3L rain jacket'))).not.toBe(base);
    expect(contextHeader(product({ categories: ['Outdoor', 'Sale'] }))).not.toBe(base);
    expect(contextHeader(product({ attributes: { colour: 'Black' } }))).not.toBe(base);
  });

  it('is the same for the same document however its payload keys are ordered', () => {
    const source = product();
    const reordered = { ...source, payload_json: JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(source.payload_json) as object).reverse())) };
    expect(contextHeader(reordered)).toBe(contextHeader(source));
  });

  it(`stays within ${MAX_HEADER_CHARS} characters, dropping whole parts from the end`, () => {
    const attributes = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`feature_${String(i).padStart(2, '0')}`, 'a long descriptive value '.repeat(6)]));
    const header = contextHeader(product({ attributes }, 'A very long product name '.repeat(10)));
    expect(header.length).toBeLessThanOrEqual(MAX_HEADER_CHARS);
    expect(header).toMatch(/^A very long product name .*… \(product; Outdoor, Jackets & rainwear; brand: Fernhill; feature 00: a long descriptive/);
    expect(header.endsWith(')')).toBe(true);
    expect(header).not.toContain('feature 29');
  });

  it('reads a payload that is not JSON as empty rather than failing', () => {
    expect(contextHeader({ ...product(), payload_json: '{not json' })).toBe('Cloudbreak 3L waterproof hiking jacket (product)');
  });
});

describe('the context header of other documents', () => {
  it('gives a category its path, and a top-level category no repeated path', () => {
    const category = (title: string, fullPath: string): ContextSource => ({ title, entity_type: 'category', doc_type: 'category', doc_subtype: null, payload_json: stableStringify({ full_path: fullPath, product_count: 5 }) });
    expect(contextHeader(category('Footwear', 'Outdoor > Footwear'))).toBe('Footwear (product category; Outdoor > Footwear)');
    expect(contextHeader(category('Outdoor', 'Outdoor'))).toBe('Outdoor (product category)');
  });

  it('gives a CMS page its type and subtype in words', () => {
    const page: ContextSource = { title: 'Returns and refunds', entity_type: 'cms_page', doc_type: 'policy', doc_subtype: 'return_policy', payload_json: '{"identifier":"returns-and-refunds"}' };
    expect(contextHeader(page)).toBe('Returns and refunds (shop policy: return policy)');
  });

  it('gives a promotion its name and type only: its dates and amounts stay in its text', () => {
    const promotion: ContextSource = { title: 'Winter warm-up', entity_type: 'promotion', doc_type: 'promotion', doc_subtype: null, payload_json: stableStringify({ coupon_code: 'WARMUP15', discount_amount: 15, to_date: '2027-01-15' }) };
    expect(contextHeader(promotion)).toBe('Winter warm-up (promotion, discount offer)');
  });
});

describe('the embedded text of a chunk', () => {
  it('is the header, an empty line, then the chunk text as it is', () => {
    expect(embeddingText('Skyline 2 (product)', '### Specifications\nWeight: 1.6 kg')).toBe('Skyline 2 (product)\n\n### Specifications\nWeight: 1.6 kg');
  });
});
