import { describe, expect, it } from 'vitest';
import { createMapStage } from '../../../src/consumers/map/map-stage.js';
import type { DocumentRecord } from '../../../src/core/records.js';
import type { InputRecord, StageContext } from '../../../src/core/stage.js';
import { category, changeRecord, cmsBlock, cmsPage, defaultFilters, product, promotion } from './samples.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };

async function documentOf(record: InputRecord): Promise<DocumentRecord> {
  const [result] = await createMapStage(defaultFilters(), { now: () => Date.UTC(2026, 10, 22) }).process([record], context);
  if (!result?.ok || !result.outputs[0]?.value) throw new Error(`expected a document, got ${JSON.stringify(result)}`);
  return result.outputs[0].value;
}

describe('mapping a product', () => {
  it('composes name, brand, SKU, categories, short description, description, attributes and image alt texts', async () => {
    const doc = await documentOf(changeRecord('product', product()));
    expect(doc.text.startsWith('# Ridgeline Trail Shoe\n\nBrand: Kestrel\nSKU: TR-200\nCategories: Footwear > Trail Running; Sale')).toBe(true);
    for (const part of [
      'Light, grippy and waterproof.',
      'Waterproof trail running shoe with a sticky rubber sole.',
      'The Ridgeline is built for long days on rough ground.',
      '## Upper',
      '- 5 mm lugs for mud',
      '## Specifications\n\n- Color: Slate blue\n- Material: Recycled mesh',
      'Images: Side view of the Ridgeline shoe in slate blue',
    ]) {
      expect(doc.text).toContain(part);
    }
  });

  it('never puts live fields (price, special price, currency, qty, stock status) into the text', async () => {
    const doc = await documentOf(changeRecord('product', product({ price: 139.95, special_price: 111.5, qty: 37, currency: 'EUR', stock_status: 'out_of_stock' })));
    for (const live of ['139.95', '111.5', '37', 'EUR', 'out_of_stock', 'out of stock', '2026-11-01', '2026-11-30']) {
      expect(doc.text).not.toContain(live);
    }
  });

  it('puts metadata and live fields into payload_json', async () => {
    const doc = await documentOf(changeRecord('product', product()));
    expect(JSON.parse(doc.payload_json)).toEqual({
      sku: 'TR-200',
      categories: ['Footwear > Trail Running', 'Sale'],
      brand: 'Kestrel',
      attributes: { color: 'Slate blue', material: 'Recycled mesh' },
      url_key: 'ridgeline-trail-shoe',
      status: 'enabled',
      visibility: 4,
      meta_title: 'Ridgeline Trail Shoe | Alpine Outfitters',
      price: 139.95,
      special_price: 111.5,
      special_from_date: '2026-11-01',
      special_to_date: '2026-11-30',
      currency: 'EUR',
      qty: 37,
      stock_status: 'in_stock',
    });
  });

  it('does not repeat the meta description when the text already says it, nor a title heading the description repeats', async () => {
    const doc = await documentOf(
      changeRecord('product', product({ meta_description: 'Light, grippy and waterproof.', description: '<h1>Ridgeline Trail Shoe</h1><p>Made for mud.</p>' })),
    );
    expect(doc.text.match(/Light, grippy and waterproof\./g)).toHaveLength(1);
    expect(doc.text.match(/Ridgeline Trail Shoe/g)).toHaveLength(1);
  });

  it('has no url without a url_key', async () => {
    expect((await documentOf(changeRecord('product', product({ url_key: null })))).url).toBeNull();
  });
});

describe('mapping a category', () => {
  it('composes the breadcrumb, description and a product count sentence', async () => {
    const doc = await documentOf(changeRecord('category', category()));
    expect(doc.text).toBe('# Trail Running\n\nCategory: Footwear > Trail Running\n\nShoes and packs for running off the beaten track.\n\n45 products in this category.');
    expect(doc.doc_type).toBe('category');
    expect(doc.url).toBe('/footwear/trail-running.html');
  });

  it('builds the breadcrumb from the parent names when full_path is missing', async () => {
    const doc = await documentOf(changeRecord('category', category({ full_path: null, parent_names: ['Footwear', 'Running'] })));
    expect(doc.text).toContain('Category: Footwear > Running > Trail Running');
  });

  it('says so when a category has one product, and leaves the sentence out when the count is unknown', async () => {
    expect((await documentOf(changeRecord('category', category({ product_count: 1 })))).text).toContain('1 product in this category.');
    expect((await documentOf(changeRecord('category', category({ product_count: null })))).text).not.toContain('in this category');
  });
});

describe('mapping a CMS page', () => {
  it('classifies it by identifier and writes the page as readable text under its title', async () => {
    const doc = await documentOf(changeRecord('cms_page', cmsPage()));
    expect(doc.doc_type).toBe('policy');
    expect(doc.doc_subtype).toBe('return_policy');
    expect(doc.url).toBe('/returns');
    expect(doc.title).toBe('Returns & Refunds');
    expect(doc.text.startsWith('# Returns & Refunds\n\nFree returns within 30 days.\n\nNot the right fit?')).toBe(true);
    expect(doc.text.match(/# Returns & Refunds/g)).toHaveLength(1);
    expect(doc.text).toContain('## How to return\n\n1. Sign in to your account and open the order.');
    expect(doc.text).toContain('Questions? Contact our team.');
    expect(JSON.parse(doc.payload_json)).toEqual({ identifier: 'returns', meta_title: 'Returns', content_heading: null });
  });

  it('uses the document_type_hint when it names a known type', async () => {
    const doc = await documentOf(changeRecord('cms_page', cmsPage({ identifier: 'winter-care', entity_id: 'winter-care', document_type_hint: 'guide' })));
    expect(doc.doc_type).toBe('guide');
  });

  it('uses the content heading as the first line when there is one', async () => {
    const doc = await documentOf(changeRecord('cms_page', cmsPage({ content_heading: 'Easy returns', content: '<p>Thirty days, no questions.</p>', meta_description: null })));
    expect(doc.text).toBe('# Easy returns\n\nThirty days, no questions.');
  });
});

describe('mapping a CMS block', () => {
  it('makes a general document of its readable content', async () => {
    const doc = await documentOf(changeRecord('cms_block', cmsBlock()));
    expect(doc.doc_type).toBe('general');
    expect(doc.doc_subtype).toBeNull();
    expect(doc.url).toBeNull();
    expect(doc.text).toBe('# Store hours\n\nMon–Fri: 9:00–18:30\nSat: 9:00–16:00\n\nClosed on public holidays.');
  });

  it('is titled by its identifier when it has no title', async () => {
    const doc = await documentOf(changeRecord('cms_block', cmsBlock({ title: '' })));
    expect(doc.title).toBe('store-hours');
  });
});

describe('mapping a promotion', () => {
  it('composes name, description, discount, coupon, conditions and validity dates', async () => {
    const doc = await documentOf(changeRecord('promotion', promotion()));
    expect(doc.doc_type).toBe('promotion');
    expect(doc.text).toBe(
      '# Winter Trail Week\n\nSave on all trail running gear for one week.\n\nDiscount: 20% off.\nCoupon code: TRAIL20.\nConditions: Orders of 50 EUR or more in the Trail Running category.\nValid from 2026-12-01 to 2026-12-07.',
    );
  });

  it('writes a fixed discount with two decimals and leaves out a missing coupon', async () => {
    const doc = await documentOf(changeRecord('promotion', promotion({ discount_type: 'fixed', discount_amount: 10, coupon_code: null, from_date: null })));
    expect(doc.text).toContain('Discount: 10.00 off (fixed amount).');
    expect(doc.text).not.toContain('Coupon');
    expect(doc.text).toContain('Valid until 2026-12-07.');
  });
});
