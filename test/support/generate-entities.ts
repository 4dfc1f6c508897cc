import type { ChangeType } from '../../src/core/entities.js';

/**
 * One line of `ragsync publish` input, as src/producers/publish/ndjson-line.ts reads it. Optional
 * envelope fields are left out by the generator, so the publisher's defaults apply.
 */
export interface PublishLine {
  type: ChangeType;
  tenant: string;
  store_id: number;
  id: string;
  action: 'save' | 'delete';
  source_version?: number | string;
  occurred_at?: string;
  data?: Record<string, unknown>;
}

export interface GenerateOptions {
  tenant: string;
  /** The same seed always gives the same lines. */
  seed: number;
  /** @defaultValue 1 */
  storeId?: number;
}

/** The identifier prefixes of the CMS doc-type table (Magento plan §1.3), one row each, in order. */
const CMS_ROWS: readonly (readonly string[])[] = [
  ['privacy', 'data-protection'],
  ['terms', 'conditions'],
  ['return', 'refund'],
  ['warranty', 'guarantee'],
  ['shipping', 'delivery'],
  ['faq', 'frequently-asked', 'help'],
  ['about', 'our-story', 'company'],
  ['contact', 'reach-us', 'support'],
  ['size-guide', 'fit-guide'],
  ['how-to', 'guide', 'tutorial'],
  ['studio-news', 'lookbook'], // no prefix of the table: the default row
];

const ADJECTIVES = ['Sturdy', 'Compact', 'Foldable', 'Classic', 'Lightweight', 'Rustic', 'Modern', 'Cosy', 'Weatherproof', 'Handmade', 'Slim', 'Heavy-duty', 'Minimal', 'Vintage', 'Breathable', 'Padded', 'Nordic', 'Coastal'];
const MATERIALS = ['oak', 'bamboo', 'linen', 'wool', 'steel', 'ceramic', 'cotton', 'walnut', 'rattan', 'canvas', 'copper', 'stoneware', 'cork', 'aluminium', 'teak'];
const NOUNS = ['lantern', 'stool', 'throw', 'planter', 'side table', 'backpack', 'cushion', 'mug', 'tent', 'hammock', 'serving board', 'bird feeder', 'doormat', 'wall shelf', 'thermos', 'picnic blanket', 'camp chair', 'candle holder', 'watering can', 'storage basket'];
const USES = ['balcony evenings', 'weekend camping', 'small kitchens', 'the reading corner', 'garden parties', 'long hikes', 'rainy afternoons', 'the guest room', 'beach days', 'the home office'];
const FEATURES = ['a scratch-resistant finish', 'reinforced seams', 'a removable cover', 'rounded edges', 'a non-slip base', 'UV-stable colours', 'a carry strap', 'a water-repellent coating', 'stackable parts', 'a lifetime spare-parts promise'];
const COLOURS = ['sand', 'forest green', 'charcoal', 'terracotta', 'natural', 'ocean blue', 'mustard', 'off-white'];
const BRANDS = ['Hollowpine', 'Brightmoor', 'Kestrel & Co', 'Larchfield', 'Tidewater'];
const DEPARTMENTS = ['Garden', 'Kitchen', 'Living room', 'Camping', 'Bedroom', 'Bathroom', 'Outdoor furniture', 'Lighting'];
const TOPICS = ['opening hours', 'gift wrapping', 'loyalty points', 'click and collect', 'care of natural materials', 'our suppliers', 'seasonal deliveries', 'store events', 'repairs', 'packaging'];
const VERBS = ['explains', 'covers', 'describes', 'summarises', 'sets out'];
const PROMO_KINDS = ['Spring clearance', 'Garden week', 'Camping weekend', 'Autumn refresh', 'Member evening', 'Winter warmers', 'Kitchen days'];

/** Mulberry32: a small seeded PRNG, so runs repeat exactly (never Math.random). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
const plural = (noun: string): string => (/(s|sh|ch|x)$/.test(noun) ? `${noun}es` : `${noun}s`);
const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** Titles are made unique by adding a number to a repeated one. */
function uniqueTitle(seen: Set<string>, base: string): string {
  let title = base;
  for (let n = 2; seen.has(title); n += 1) title = `${base} ${n}`;
  seen.add(title);
  return title;
}

/** The one page with privacy wording: a query about personal data should find it first. */
function privacyPolicy(): Record<string, unknown> {
  return {
    identifier: 'privacy-policy',
    title: 'Privacy policy',
    content:
      '<h2>How we handle your personal data</h2><p>We use your personal information only as this policy describes. We process your personal data (name, address, email and order history) only to fulfil orders and, with your consent, to send newsletters. We never sell personal data to third parties.</p>' +
      '<h2>Your rights under the GDPR</h2><p>You may request access to, correction of or erasure of your personal data at any time, and withdraw consent to marketing emails. Our data protection officer answers every request within 30 days.</p>' +
      '<h2>Cookies and analytics</h2><p>Essential cookies keep your basket; analytics cookies are set only after you accept them in the cookie banner.</p>',
    meta_title: 'Privacy policy and personal data',
    meta_description: 'How we collect, store and protect your personal data, and how to exercise your privacy rights.',
    is_active: true,
  };
}

function product(random: Random, n: number, titles: Set<string>): { id: string; data: Record<string, unknown> } {
  const [adjective, material, noun] = [pick(random, ADJECTIVES), pick(random, MATERIALS), pick(random, NOUNS)];
  const name = uniqueTitle(titles, `${adjective} ${material} ${noun}`);
  const sku = `GEN-${String(n).padStart(5, '0')}`;
  const [use, feature, colour, department] = [pick(random, USES), pick(random, FEATURES), pick(random, COLOURS), pick(random, DEPARTMENTS)];
  const price = Math.round((5 + random() * 295) * 100) / 100;
  const qty = Math.floor(random() * 60);
  return {
    id: sku,
    data: {
      sku,
      name,
      description: `<p>The ${name.toLowerCase()} is made for ${use}.</p><ul><li>Finished in ${colour}</li><li>Comes with ${feature}</li></ul>`,
      short_description: `${capitalize(noun)} in ${colour} for ${use}.`,
      url_key: slug(name),
      categories: [department],
      brand: pick(random, BRANDS),
      attributes: { colour, material },
      status: 'enabled',
      visibility: 4,
      price,
      currency: 'EUR',
      qty,
      stock_status: qty > 0 ? 'in_stock' : 'out_of_stock',
    },
  };
}

function category(random: Random, n: number, titles: Set<string>): { id: string; data: Record<string, unknown> } {
  const parent = pick(random, DEPARTMENTS);
  const name = uniqueTitle(titles, `${pick(random, ADJECTIVES)} ${plural(pick(random, NOUNS))}`);
  return {
    id: String(100 + n),
    data: {
      name,
      description: `<p>${name} from our ${parent.toLowerCase()} range, chosen for ${pick(random, USES)}.</p>`,
      url_path: `${slug(parent)}/${slug(name)}`,
      full_path: `${parent} > ${name}`,
      parent_names: [parent],
      level: 3,
      product_count: Math.floor(random() * 80),
      is_active: true,
    },
  };
}

function page(random: Random, n: number, titles: Set<string>): { id: string; data: Record<string, unknown> } {
  if (n === 0) return { id: 'privacy-policy', data: privacyPolicy() };
  // Page 0 covers the privacy row; the others cycle through the remaining rows and their prefixes.
  const row = CMS_ROWS[1 + ((n - 1) % (CMS_ROWS.length - 1))]!;
  const prefix = row[Math.floor((n - 1) / (CMS_ROWS.length - 1)) % row.length]!;
  const topic = pick(random, TOPICS);
  const title = uniqueTitle(titles, `${capitalize(prefix.replace(/-/g, ' '))}: ${topic}`);
  const identifier = `${prefix}-${slug(topic)}-${n}`;
  return {
    id: identifier,
    data: {
      identifier,
      title,
      content: `<h2>${title}</h2><p>This page ${pick(random, VERBS)} ${topic} for ${pick(random, USES)}.</p><p>Ask in store about ${pick(random, TOPICS)}.</p>`,
      content_heading: title,
      is_active: true,
    },
  };
}

function block(random: Random, n: number, titles: Set<string>): { id: string; data: Record<string, unknown> } {
  const topic = pick(random, TOPICS);
  const title = uniqueTitle(titles, `Notice: ${topic}`);
  return { id: `block-${slug(topic)}-${n}`, data: { identifier: `block-${slug(topic)}-${n}`, title, content: `<p>${capitalize(topic)}: ask at the front desk or read our page on ${pick(random, TOPICS)}.</p>`, is_active: true } };
}

function promotion(random: Random, n: number, titles: Set<string>): { id: string; data: Record<string, unknown> } {
  const name = uniqueTitle(titles, `${pick(random, PROMO_KINDS)} on ${plural(pick(random, NOUNS))}`);
  const percentage = random() < 0.5;
  const amount = percentage ? 5 + Math.floor(random() * 6) * 5 : 10 + Math.floor(random() * 4) * 5;
  const month = String(1 + Math.floor(random() * 12)).padStart(2, '0');
  return {
    id: String(500 + n),
    data: {
      name,
      description: `${name}: ${amount}${percentage ? ' percent' : ' euro'} off for ${pick(random, USES)}.`,
      coupon_code: random() < 0.5 ? `SAVE${amount}-${n}` : null,
      discount_amount: amount,
      discount_type: percentage ? 'percentage' : 'fixed',
      conditions_summary: `Orders over ${20 + Math.floor(random() * 8) * 10} euro.`,
      // Far-off end dates: whether a generated promotion is indexed must not depend on the clock.
      from_date: `2026-${month}-01`,
      to_date: `2099-${month}-28`,
      is_active: true,
    },
  };
}

const MAKERS: Record<'product' | 'category' | 'cms_page' | 'cms_block' | 'promotion', typeof product> = { product, category, cms_page: page, cms_block: block, promotion };

/**
 * `count` save lines of mixed entities: about 60% products, 15% categories, 10% CMS pages (the
 * first is `privacy-policy`; the rest cover every row of the CMS doc-type table), 10% CMS blocks and
 * 5% promotions, in a seeded shuffled order. Titles are distinct; texts are short and readable.
 * All are enabled, active and unexpired, so under the default filters every line becomes a document.
 */
export function generateEntities(count: number, options: GenerateOptions): PublishLine[] {
  const random = prng(options.seed);
  const share = (fraction: number) => Math.round(count * fraction);
  const pages = count > 0 ? Math.max(1, share(0.1)) : 0;
  const others = { category: share(0.15), cms_block: share(0.1), promotion: share(0.05) };
  const types: (keyof typeof MAKERS)[] = [];
  const push = (type: keyof typeof MAKERS, times: number) => {
    for (let i = 0; i < times && types.length < count; i += 1) types.push(type);
  };
  push('cms_page', pages);
  push('category', others.category);
  push('cms_block', others.cms_block);
  push('promotion', others.promotion);
  push('product', count - types.length);
  // Fisher–Yates with the seeded generator.
  for (let i = types.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [types[i], types[j]] = [types[j]!, types[i]!];
  }
  const counters = { product: 0, category: 0, cms_page: 0, cms_block: 0, promotion: 0 };
  const titles = new Set<string>();
  return types.map((type) => {
    const { id, data } = MAKERS[type](random, counters[type]++, titles);
    return { type, tenant: options.tenant, store_id: options.storeId ?? 1, id, action: 'save', data };
  });
}

/** Lines as NDJSON text, one JSON object per line, ending with a newline. */
export function toNdjson(lines: readonly PublishLine[]): string {
  return lines.map((line) => JSON.stringify(line)).join('\n') + (lines.length > 0 ? '\n' : '');
}
