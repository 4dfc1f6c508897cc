import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { configSchema } from '../../../../src/config/schema.js';
import type { ChangeMessage, ChangeSink } from '../../../../src/core/changes.js';
import { parseKey } from '../../../../src/core/keys.js';
import { RecordsRefusedError, illFormedTextPath } from '../../../../src/kafka/producer.js';
import { MAX_DATA_FIELDS, MAX_ID_BYTES, MAX_LIST_ENTRIES, MAX_STRING_BYTES } from '../../../../src/producers/items/limits.js';
import { createWebhookServer } from '../../../../src/producers/magento/server.js';
import { signBody } from '../../../../src/producers/magento/signature.js';

/**
 * The webhook as a careless or hostile sender meets it: malformed values, broken text, huge ids,
 * absurd dates, Magento values the first build did not know. Every body gets a 2xx or a 4xx that
 * names what is wrong; none gets a 500, and nothing unwritable reaches the sink.
 */
class RecordingSink implements ChangeSink {
  published: ChangeMessage[][] = [];
  /** Names (data.name) whose records the sink refuses before sending, like a record over max.message.bytes. */
  refuseNames = new Set<string>();
  async publish(messages: ChangeMessage[]): Promise<void> {
    const refusals = messages.flatMap((m, index) =>
      typeof m.value?.name === 'string' && this.refuseNames.has(m.value.name)
        ? [{ index, code: 'record_too_large' as const, path: '', reason: 'the encoded record takes 5000000 bytes', message: `record ${index}: the encoded record takes 5000000 bytes` }]
        : [],
    );
    if (refusals.length > 0) throw new RecordsRefusedError(refusals);
    this.published.push(messages);
  }
  async close(): Promise<void> {}
}

const SECRET = 'hostile-input-secret';
const NOW = Date.UTC(2026, 5, 15, 12, 0, 0);
const TIMESTAMP = '2026-06-15T11:59:00Z';
const config = configSchema.parse({
  kafka: {}, registry: {}, redis: {}, topics: {}, chunking: {}, embedder: {}, store: {}, runner: {}, http: {},
  tenants: { acme: { secrets: [SECRET], stores: [1] } },
  webhook: { bodyLimitBytes: 8 * 1024 * 1024 },
});

let app: FastifyInstance;
let sink: RecordingSink;

function setup(overrides: { webhook?: Partial<typeof config.webhook>; ingress?: Partial<typeof config.ingress> } = {}) {
  sink = new RecordingSink();
  app = createWebhookServer({
    config: { ...config, webhook: { ...config.webhook, ...overrides.webhook }, ingress: { ...config.ingress, ...overrides.ingress } },
    sink,
    redis: null,
    now: () => NOW,
  });
  return app;
}

afterEach(async () => {
  await app?.close();
});

const post = (body: string, url = '/api/webhooks/magento/acme/batch') =>
  app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': signBody(body, SECRET) } });

const batch = (items: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'batch', batch_id: 'b-1', timestamp: TIMESTAMP, items, ...extra });

const DATA: Record<string, Record<string, unknown>> = {
  product: {
    sku: 'LMP-1', name: 'Brass desk lamp', description: '<p>Warm light.</p>', short_description: 'Warm', meta_title: 'Lamp', meta_description: 'A lamp', url_key: 'brass-lamp',
    categories: ['Lights', 'Desk'], brand: 'Lumen & Co', attributes: { color: 'Brass', finish: ['Matte', 'Polished'] }, image_alt_texts: ['Lamp on a desk'],
    status: 1, visibility: 4, price: '49.90', special_price: 39, special_from_date: '2026-06-01', special_to_date: '2026-06-30', currency: 'EUR', qty: 3, stock_status: 1,
  },
  category: { name: 'Lights', description: '<p>All lights</p>', url_path: 'lights', full_path: 'Home > Lights', meta_title: 'Lights', meta_description: 'Lights', product_count: 12, parent_names: ['Home'], level: 2, is_active: 1 },
  cms_page: { identifier: 'returns', title: 'Returns', content: '<p>30 days</p>', meta_title: 'Returns', meta_description: 'Returns', content_heading: 'Returns', is_active: true, document_type_hint: 'policy' },
  cms_block: { identifier: 'footer', title: 'Footer', content: 'Open 9-17', is_active: '1' },
  promotion: { name: 'Summer deal', description: 'Lights for less', coupon_code: 'SUN10', discount_amount: '10.0000', discount_type: 'by_percent', conditions_summary: 'Lights only', from_date: '2026-06-01', to_date: '2026-06-30', is_active: '1' },
};

const item = (type: string, data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ type, id: `${type}-1`, action: 'save', store_id: 1, data: { ...DATA[type], ...data }, ...extra });

/** A JSON object that JavaScript cannot turn into text: String() of it throws. */
const UNPRINTABLE = { toString: 1, valueOf: 1 };

describe('a malformed field value', () => {
  const cases: Array<[string, string]> = [
    // An object is a valid attributes map (its keys are attribute names); a nested one is not, below.
    ...Object.entries(DATA).flatMap(([type, data]) => Object.keys(data).filter((f) => f !== 'attributes').map((field): [string, string] => [type, field])),
    ['promotion', 'simple_action'],
    ['promotion', 'discount_step'],
  ];

  it('in any data field (an object String() cannot convert) answers 400 naming the field', async () => {
    setup();
    for (const [type, field] of cases) {
      const data = field === 'simple_action' ? { discount_type: undefined, simple_action: UNPRINTABLE } : { [field]: UNPRINTABLE };
      const response = await post(batch([item(type, data)]));
      expect(response.statusCode, `${type} data.${field}`).toBe(400);
      expect(response.json().items[0].fields.map((f: { path: string }) => f.path), `${type} data.${field}`).toContain(`data.${field}`);
    }
    expect(sink.published).toHaveLength(0);
  });

  it('anywhere else in an item (envelope fields, an attribute value) answers 400 naming it', async () => {
    setup();
    const bodies: Array<[unknown, string]> = [
      ...['type', 'id', 'action', 'store_id', 'updated_at'].map((field): [unknown, string] => [{ ...item('product'), [field]: UNPRINTABLE }, field]),
      [item('product', { attributes: { color: UNPRINTABLE } }), 'data.attributes.color'],
      [item('product', { status: UNPRINTABLE }), 'data.status'],
    ];
    for (const [body, path] of bodies) {
      const response = await post(batch([body]));
      expect(response.statusCode, path).toBe(400);
      expect(response.json().items[0].fields.map((f: { path: string }) => f.path), path).toContain(path);
    }
  });

  it('never gets a 500, whatever JSON a signed body holds (generated bodies)', async () => {
    setup();
    const hostile = fc.oneof(
      fc.jsonValue(),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.constantFrom<unknown>(UNPRINTABLE, { __proto__: { x: 1 } }, { constructor: 'x' }, [], {}, null, -1, 1e308, 2 ** 53 + 1, '\ud800', '2026-02-30', '0000-00-00 00:00:00', 'NaN', ''),
    );
    const fields = ['type', 'id', 'action', 'store_id', 'updated_at', 'data', ...new Set(Object.values(DATA).flatMap((d) => Object.keys(d)))];
    const envelope = ['type', 'batch_id', 'timestamp', 'items'];
    const body = fc.oneof(
      // A whole body of anything.
      fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
      // A valid batch with some item fields (envelope or data) replaced.
      fc.record({
        type: fc.constantFrom(...Object.keys(DATA)),
        changes: fc.array(fc.tuple(fc.constantFrom(...fields), fc.boolean(), hostile), { minLength: 1, maxLength: 4 }),
      }).map(({ type, changes }) => {
        const it = item(type) as Record<string, unknown> & { data: Record<string, unknown> };
        for (const [field, inData, value] of changes) {
          if (inData && field !== 'data' && typeof it.data === 'object' && it.data !== null && !Array.isArray(it.data)) it.data[field] = value;
          else it[field] = value;
        }
        return batch([item('cms_block'), it]);
      }),
      // A batch whose envelope fields are replaced.
      fc.tuple(fc.constantFrom(...envelope), hostile).map(([field, value]) => JSON.stringify({ type: 'batch', batch_id: 'b-2', timestamp: TIMESTAMP, items: [item('product')], [field]: value })),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const response = await post(text);
        expect([202, 400], `${response.statusCode} for ${text.slice(0, 300)}: ${response.body.slice(0, 300)}`).toContain(response.statusCode);
        // Whatever was accepted can be written: valid Unicode everywhere, ids within the limit.
        for (const message of sink.published.flat()) {
          expect(illFormedTextPath(message.value)).toBeUndefined();
          expect(Buffer.byteLength(parseKey(message.key).entityId)).toBeLessThanOrEqual(MAX_ID_BYTES);
        }
      }),
      { numRuns: 400 },
    );
    // 400 requests: a loaded machine needs more than the default 5 s.
  }, 30_000);
});

describe('a lone surrogate', () => {
  const LONE = 'Lamp \ud800 brass';
  const TEXT_FIELDS: Record<string, string[]> = {
    product: ['sku', 'name', 'description', 'short_description', 'meta_title', 'meta_description', 'url_key', 'brand', 'currency'],
    category: ['name', 'description', 'url_path', 'full_path', 'meta_title', 'meta_description'],
    cms_page: ['identifier', 'title', 'content', 'meta_title', 'meta_description', 'content_heading', 'document_type_hint'],
    cms_block: ['identifier', 'title', 'content'],
    promotion: ['name', 'description', 'coupon_code', 'conditions_summary', 'discount_type'],
  };
  const textFields: Array<[string, string, unknown, string]> = [
    ...Object.entries(TEXT_FIELDS).flatMap(([type, fields]) => fields.map((field): [string, string, unknown, string] => [type, field, LONE, `data.${field}`])),
    ['product', 'categories', ['Lights', LONE], 'data.categories.1'],
    ['product', 'category_names', 'Lights|\udbff', 'data.category_names'],
    ['product', 'image_alt_texts', [LONE], 'data.image_alt_texts.0'],
    ['product', 'attributes', { color: LONE }, 'data.attributes.color'],
    ['product', 'attributes', { color: ['Red', LONE] }, 'data.attributes.color'],
    ['product', 'attributes', { 'col\udc00or': 'Brass' }, 'data.attributes.col\ufffdor'],
    ['category', 'parent_names', [LONE], 'data.parent_names.0'],
  ];

  it.each(textFields)('in %s %s answers 400 naming the field', async (type, field, value, path) => {
    setup();
    const data = field === 'category_names' ? { categories: undefined, category_names: value } : { [field]: value };
    const response = await post(batch([item(type, data)]));
    expect(response.statusCode).toBe(400);
    const issue = response.json().items[0].fields[0];
    expect(issue.path).toBe(path);
    expect(issue.message).toMatch(/lone surrogate/);
  });

  it('in the id answers 400 naming the id, like any text field, while emoji and U+FFFD are text like any other', async () => {
    setup();
    const response = await post(batch([{ ...item('product'), id: 'LMP-\ud800' }]));
    expect(response.statusCode).toBe(400);
    expect(response.json().items[0].fields).toEqual([{ path: 'id', message: expect.stringMatching(/lone surrogate/) }]);
    const fine = await post(batch([{ ...item('product', { name: 'Lamp 💡 \ufffd', attributes: { '🎨': 'Brass' } }), id: 'LMP-💡' }], { batch_id: 'b-2' }));
    expect(fine.statusCode).toBe(202);
    expect(sink.published[0]![0]!.value).toMatchObject({ name: 'Lamp 💡 \ufffd', attributes: { '🎨': 'Brass' }, entity_id: 'LMP-💡' });
  });

  it('in the batch_id answers 400 naming it', async () => {
    setup();
    const response = await post(batch([item('product')], { batch_id: 'b-\udfff' }));
    expect(response.statusCode).toBe(400);
    expect(response.json().fields[0]).toMatchObject({ path: 'batch_id', message: expect.stringMatching(/lone surrogate/) });
  });

});

describe('limits', () => {
  it('answers a 1 MB id with 400 naming the id, at once, and keeps serving others', async () => {
    setup();
    const body = batch([{ ...item('product'), id: 'x'.repeat(1024 * 1024) }]);
    const started = performance.now();
    const [huge, normal] = await Promise.all([post(body), post(batch([item('product')], { batch_id: 'b-normal' }))]);
    const elapsedMs = performance.now() - started;
    console.log(`a 1 MB id answered ${huge.statusCode} in ${elapsedMs.toFixed(1)} ms (with a normal request alongside)`);
    expect(huge.statusCode).toBe(400);
    expect(huge.json().items[0].fields).toEqual([{ path: 'id', message: `is longer than ${MAX_ID_BYTES} bytes (UTF-8)` }]);
    expect(huge.body.length).toBeLessThan(2000);
    expect(normal.statusCode).toBe(202);
  });

  it(`takes an id of ${MAX_ID_BYTES} bytes and refuses one of ${MAX_ID_BYTES + 1}, counting UTF-8 bytes`, async () => {
    setup();
    expect((await post(batch([{ ...item('product'), id: 'é'.repeat(MAX_ID_BYTES / 2) }]))).statusCode).toBe(202);
    const over = await post(batch([{ ...item('product'), id: `${'é'.repeat(MAX_ID_BYTES / 2)}x` }], { batch_id: 'b-2' }));
    expect(over.statusCode).toBe(400);
    expect(over.json().items[0].fields[0].path).toBe('id');
  });

  it('refuses too many data fields, too many list entries and too long a string, naming each', async () => {
    setup();
    const fields = Object.fromEntries(Array.from({ length: MAX_DATA_FIELDS + 1 }, (_, i) => [`f${i}`, 'x']));
    const cases: Array<[unknown, string]> = [
      [{ ...item('product'), data: { ...DATA.product, ...fields } }, 'data'],
      [item('product', { categories: Array.from({ length: MAX_LIST_ENTRIES + 1 }, (_, i) => `c${i}`) }), 'data.categories'],
      [item('product', { attributes: Object.fromEntries(Array.from({ length: MAX_LIST_ENTRIES + 1 }, (_, i) => [`a${i}`, 'x'])) }), 'data.attributes'],
      [item('product', { description: 'x'.repeat(MAX_STRING_BYTES + 1) }), 'data.description'],
      [item('product', { description: '€'.repeat(Math.ceil((MAX_STRING_BYTES + 1) / 3)) }), 'data.description'],
    ];
    for (const [body, path] of cases) {
      const response = await post(batch([body]));
      expect(response.statusCode, path).toBe(400);
      expect(response.json().items[0].fields[0].path, path).toBe(path);
    }
  });

  it('refuses a store_id beyond a 32-bit integer, which no record could carry', async () => {
    setup();
    const response = await post(batch([{ ...item('category'), action: 'delete', store_id: 2 ** 31 }]));
    expect(response.statusCode).toBe(400);
    expect(response.json().items[0].fields[0].path).toBe('store_id');
  });
});

describe('event times', () => {
  const at = (timestamp: unknown, extra: Record<string, unknown> = {}) => post(batch([item('product')], { timestamp, ...extra }));

  it.each([
    ['2200-01-01T00:00:00Z', /ahead of the server clock/],
    ['1900-01-01T00:00:00Z', /before 2000-01-01/],
    [0, /before 2000-01-01/],
    ['2026-02-30T10:00:00Z', /not a valid date-time/],
    ['2026-04-31 10:00:00', /not a valid date-time/],
    ['2026-06-15T24:00:00Z', /not a valid date-time/],
  ])('refuses the body timestamp %s, naming it', async (timestamp, message) => {
    setup();
    const response = await at(timestamp);
    expect(response.statusCode).toBe(400);
    expect(response.json().fields).toEqual([{ path: 'timestamp', message: expect.stringMatching(message) }]);
    expect(sink.published).toHaveLength(0);
  });

  it('takes a timestamp up to the configured window ahead and no further (ingress.maxFutureSeconds)', async () => {
    setup();
    const tenMinutesAhead = '2026-06-15T12:10:00Z';
    const refused = await at(tenMinutesAhead);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().fields).toEqual([{ path: 'timestamp', message: expect.stringMatching(/more than 300 s ahead of the server clock/) }]);
    await app.close();
    setup({ ingress: { maxFutureSeconds: 900 } });
    expect((await at(tenMinutesAhead)).statusCode).toBe(202);
    expect((await at('2024-02-29T10:00:00Z', { batch_id: 'leap-day' })).statusCode).toBe(202);
  });

  it('refuses an item updated_at in the far future and keeps the other items', async () => {
    setup();
    const response = await post(batch([item('product'), { ...item('category'), updated_at: '2200-01-01 00:00:00' }]));
    expect(response.statusCode).toBe(202);
    expect(response.json().rejected).toEqual([{ index: 1, type: 'category', id: 'category-1', fields: [{ path: 'updated_at', message: expect.stringMatching(/ahead of the server clock/) }] }]);
  });

  it('refuses a data date the calendar does not have instead of rolling it over', async () => {
    setup();
    const response = await post(batch([item('promotion', { to_date: '2026-02-30' })]));
    expect(response.statusCode).toBe(400);
    expect(response.json().items[0].fields).toEqual([{ path: 'data.to_date', message: 'is not a day of the calendar: "2026-02-30"' }]);
  });
});

describe('values Magento 2.4 sends', () => {
  const valueOf = (type: string, data: Record<string, unknown>) => async () => {
    setup();
    const response = await post(batch([item(type, data)]));
    expect(response.statusCode, response.body).toBe(202);
    return { value: sink.published[0]![0]!.value!, body: response.json() as Record<string, unknown> };
  };

  it.each([
    ['by_percent', 'percentage'],
    ['by_fixed', 'fixed'],
    ['cart_fixed', 'fixed'],
    ['buy_x_get_y', null],
    ['to_percent', null],
    ['to_fixed', null],
  ])('accepts the rule action %s and keeps it as discount_action', async (action, type) => {
    const { value, body } = await valueOf('promotion', { discount_type: action, discount_step: '2' })();
    expect(value).toMatchObject({ discount_action: action, discount_type: type, discount_step: 2 });
    expect(body.warnings).toBeUndefined();
  });

  it('reads Magento\'s own column simple_action when discount_type is absent', async () => {
    const { value } = await valueOf('promotion', { discount_type: undefined, simple_action: 'buy_x_get_y', discount_amount: '1.0000', discount_step: '3' })();
    expect(value).toMatchObject({ discount_action: 'buy_x_get_y', discount_type: null, discount_amount: 1, discount_step: 3 });
  });

  it('keeps an action it does not know as text, with a warning in the answer', async () => {
    const { value, body } = await valueOf('promotion', { discount_type: 'ampromo_items' })();
    expect(value).toMatchObject({ discount_action: 'ampromo_items', discount_type: null });
    expect(body.warnings).toEqual([{ index: 0, type: 'promotion', id: 'promotion-1', fields: [{ path: 'data.discount_type', message: 'unknown rule action "ampromo_items" kept as text' }] }]);
  });

  it('reads every form of status, visibility and stock status, and ignores the product type', async () => {
    setup();
    const forms: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      ...([[1, 'enabled'], ['1', 'enabled'], ['Enabled', 'enabled'], [true, 'enabled'], [2, 'disabled'], ['2', 'disabled'], ['Disabled', 'disabled'], [false, 'disabled']] as const).map(
        ([status, expected]): [Record<string, unknown>, Record<string, unknown>] => [{ status }, { status: expected }],
      ),
      ...([[1, 1], ['2', 2], ['Not Visible Individually', 1], ['Catalog', 2], ['Search', 3], ['Catalog, Search', 4], ['catalog,search', 4]] as const).map(
        ([visibility, expected]): [Record<string, unknown>, Record<string, unknown>] => [{ visibility }, { visibility: expected }],
      ),
      ...([[1, 'in_stock'], ['In Stock', 'in_stock'], [0, 'out_of_stock'], ['Out of Stock', 'out_of_stock'], [false, 'out_of_stock']] as const).map(
        ([stock, expected]): [Record<string, unknown>, Record<string, unknown>] => [{ stock_status: stock }, { stock_status: expected }],
      ),
      // Magento's product types, and an extension's: ragsync does not read the type.
      ...['simple', 'configurable', 'bundle', 'grouped', 'virtual', 'downloadable', 'giftcard', 'some_extension_type'].map((type_id): [Record<string, unknown>, Record<string, unknown>] => [{ type_id }, {}]),
    ];
    const response = await post(batch(forms.map(([data], i) => ({ ...item('product', data), id: `p-${i}` }))));
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toMatchObject({ accepted: forms.length });
    expect(response.json().warnings).toBeUndefined();
    sink.published[0]!.forEach((message, i) => expect(message.value, JSON.stringify(forms[i]![0])).toMatchObject(forms[i]![1]));
  });

  it('keeps unknown status, visibility and stock values with a warning instead of refusing the item', async () => {
    const { value, body } = await valueOf('product', { status: 3, visibility: 'Hidden', stock_status: 'backorder' })();
    expect(value).toMatchObject({ status: 'disabled', visibility: null, stock_status: null });
    expect((body.warnings as Array<{ fields: Array<{ path: string }> }>)[0]!.fields.map((f) => f.path)).toEqual(['data.status', 'data.visibility', 'data.stock_status']);
  });

});

describe('a batch with one item the sink cannot write', () => {
  it('publishes the others and names that item in the 202 (it was never produced)', async () => {
    setup();
    sink.refuseNames.add('Huge lamp');
    const items = [item('product'), { ...item('product', { name: 'Huge lamp' }), id: 'huge' }, { ...item('cms_block'), id: 'footer-2' }];
    const response = await post(batch(items));
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ accepted: 2, records: 2, rejected: [{ index: 1, type: 'product', id: 'huge', fields: [{ path: '', message: 'the encoded record takes 5000000 bytes' }] }] });
    expect(sink.published.flat().map((m) => parseKey(m.key).entityId)).toEqual(['product-1', 'footer-2']);
  });

  it('answers 400 when that was the only item, and with refuse-batch whenever there is one', async () => {
    setup();
    sink.refuseNames.add('Huge lamp');
    expect((await post(batch([item('product', { name: 'Huge lamp' })]))).statusCode).toBe(400);
    await app.close();
    setup({ webhook: { invalidItems: 'refuse-batch' } });
    sink.refuseNames.add('Huge lamp');
    const response = await post(batch([item('cms_block'), item('product', { name: 'Huge lamp' })]));
    expect(response.statusCode).toBe(400);
    expect(response.json().items).toEqual([{ index: 1, type: 'product', id: 'product-1', fields: [{ path: '', message: 'the encoded record takes 5000000 bytes' }] }]);
    expect(sink.published).toHaveLength(0);
  });
});
