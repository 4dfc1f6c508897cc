import type { DocumentRecord } from '../../../src/core/records.js';
import { formatKey } from '../../../src/core/keys.js';

/** A long customer-service page as the map stage writes it: ten sections under `##` headings. */
export const SECTIONS: Array<[heading: string, paragraphs: string[]]> = [
  ['Ordering', [
    'You can order online at any time of day. Add items to your basket, choose a delivery option and pay at checkout.',
    'An order is binding once you receive our confirmation email. If the email does not arrive within an hour, check your spam folder or call us.',
  ]],
  ['Payment', [
    'We accept credit and debit cards, PayPal, bank transfer and invoice for returning customers.',
    'Card payments are authorised when you order and charged when the parcel leaves our warehouse. Invoices are due within fourteen days.',
  ]],
  ['Shipping', [
    'Standard shipping within the country is free on orders over fifty euros; below that it costs four ninety-five.',
    '- Standard: two to four working days\n- Express: next working day when ordered before two in the afternoon\n- Pick-up point: three to five working days',
  ]],
  ['Delivery times', [
    'During the winter sale and the weeks before the holidays, deliveries may take one or two days longer than usual.',
    'You receive a tracking link by email as soon as the carrier scans your parcel. Bulky items such as tents are delivered by a freight partner who calls ahead to agree on a time slot.',
  ]],
  ['Returns', [
    'You may return unworn and unwashed items within thirty days of delivery. Shoes must come back in their original box, and outdoor gear with all tags attached.',
    'To start a return, sign in to your account, open the order and choose the items you want to send back. Print the free label, pack the items securely and drop the parcel at any post office. Items bought in the winter sale can be returned within fourteen days for store credit only. We cannot accept returns of personalised items, opened hygiene products or gift cards.',
  ]],
  ['Refunds', [
    'We refund to the original payment method within five working days after your parcel arrives at our warehouse.',
    'Shipping costs are refunded when you return the whole order. Express shipping surcharges are not refunded.',
  ]],
  ['Exchanges', [
    'Need another size or colour? Choose exchange instead of refund when you register the return and we send the new item as soon as the original is on its way back to us.',
  ]],
  ['Warranty', [
    'All products carry the statutory two-year warranty. Many of our brands add their own guarantee on top, which you find on the product page.',
    'If a product develops a fault, send us a photo and your order number. We repair, replace or refund, whichever suits the case.',
  ]],
  ['Gift cards', [
    'Gift cards are valid for three years from the date of purchase and can be used online and in our shops. They cannot be exchanged for cash.',
  ]],
  ['Contact', [
    'Our customer service team answers emails within one working day and takes calls from Monday to Friday, nine to six.',
    'For questions about an existing order, please have your order number ready.',
  ]],
];

export function pageText(sections = SECTIONS): string {
  return ['# Customer service', ...sections.map(([heading, paragraphs]) => `## ${heading}\n\n${paragraphs.join('\n\n')}`)].join('\n\n');
}

export const DOC_KEY = formatKey({ tenant: 'alpine-outfitters', entityType: 'cms_page', entityId: 'customer-service', storeId: 1 });

export function document(text: string, overrides: Partial<DocumentRecord> = {}): DocumentRecord {
  return {
    doc_key: DOC_KEY,
    tenant: 'alpine-outfitters',
    entity_type: 'cms_page',
    entity_id: 'customer-service',
    store_id: 1,
    source_version: 1_767_225_600_000_007n,
    occurred_at: Date.UTC(2026, 10, 21, 15, 0),
    doc_type: 'support',
    doc_subtype: 'contact',
    title: 'Customer service',
    url: '/customer-service',
    text,
    text_hash: 'not-checked-by-chunk',
    payload_json: '{"identifier":"customer-service"}',
    payload_hash: 'not-checked-by-chunk',
    ...overrides,
  };
}
