/**
 * A synthetic shop catalog for retrieval benchmarks: categories in two levels, then N products
 * with a description of several paragraphs, a feature list, a specification table and attributes,
 * all drawn from a seeded generator (the same seed gives the same bytes). The lines are
 * `ragsync publish` input; with `--queries` it also writes an evaluation set for `ragsync eval`
 * whose questions name a product and ask for a fact of its specification table, the case where the
 * product's name and the fact sit in different chunks.
 *
 *   npx tsx bench/generate-catalog.ts --count 5000 [--seed 7] [--tenant bench] [--out catalog.ndjson]
 *                                     [--queries eval.jsonl] [--query-count 200]
 *
 * Then `ragsync publish catalog.ndjson`, run the pipeline, and `ragsync eval eval.jsonl`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { prng } from '../test/support/generate-entities.js';

export interface CatalogOptions {
  count: number;
  seed: number;
  /** @defaultValue 'bench' */
  tenant?: string;
  /** @defaultValue 1 */
  storeId?: number;
  /** Questions in the evaluation set, at most one per product. @defaultValue 200 */
  queryCount?: number;
}

export interface GeneratedCatalog {
  /** `ragsync publish` lines: the categories first, then the products. */
  lines: Array<Record<string, unknown>>;
  /** `ragsync eval` lines. */
  queries: Array<{ query: string; expect: string[]; tags: string[] }>;
}

type Random = () => number;

const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const between = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
function some<T>(random: Random, list: readonly T[], n: number): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

/** One row of a specification table: its label and a value drawn for one product. */
type Spec = [label: string, value: (random: Random) => string];

/** A kind of product: where it is sold, what it is called, what it has, how it is measured. */
interface Kind {
  department: string;
  category: string;
  nouns: readonly string[];
  adjectives: readonly string[];
  uses: readonly string[];
  features: readonly string[];
  specs: readonly Spec[];
  sizes?: readonly string[];
}

const CLOTHING_SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL'];
const COLOURS = ['black', 'navy', 'forest green', 'rust', 'sand', 'slate grey', 'ochre', 'sky blue', 'burgundy', 'off-white', 'olive', 'charcoal'];
const BRANDS = ['Fernhill', 'Hollowpine', 'Brightmoor', 'Kestrel & Co', 'Larchfield', 'Tidewater', 'Northgate', 'Alderbank'];
const grams = (low: number, high: number) => (random: Random) => `${between(random, low, high) * 10} g`;
const cm = (low: number, high: number) => (random: Random) => `${between(random, low, high)} cm`;

const KINDS: readonly Kind[] = [
  {
    department: 'Outdoor', category: 'Jackets & rainwear', nouns: ['rain jacket', 'softshell jacket', 'down jacket', 'fleece jacket', 'insulated vest'],
    adjectives: ['waterproof', 'packable', 'lightweight', 'insulated', 'breathable'], uses: ['wet hill walks', 'cold mornings on the trail', 'cycling to work', 'winter city days'],
    features: ['taped seams', 'pit zips for ventilation', 'a helmet-compatible hood', 'two chest pockets', 'a PFC-free water-repellent finish', 'thumb loops', 'a two-way front zip'],
    specs: [['Weight', grams(20, 60)], ['Material', (r) => pick(r, ['recycled polyamide', 'recycled polyester', 'nylon ripstop', 'merino blend'])], ['Waterproof rating', (r) => `${between(r, 5, 30) * 1000} mm`], ['Care', (r) => pick(r, ['machine wash 30 °C', 'hand wash', 'wash at 40 °C, tumble dry low'])]],
    sizes: CLOTHING_SIZES,
  },
  {
    department: 'Outdoor', category: 'Tents & shelters', nouns: ['tent', 'tarp', 'bivvy shelter', 'dome tent', 'tunnel tent'],
    adjectives: ['two-person', 'ultralight', 'freestanding', 'family', 'four-season'], uses: ['backpacking trips', 'festival weekends', 'family campsites', 'alpine nights'],
    features: ['two doors', 'colour-coded poles', 'a pitch-fly-first design', 'mesh storage pockets', 'a spare pole section', 'reflective guy lines'],
    specs: [['Weight', (r) => `${(between(r, 8, 60) / 10).toFixed(1)} kg`], ['Capacity', (r) => `${between(r, 1, 6)} persons`], ['Hydrostatic head', (r) => `${between(r, 15, 50) * 100} mm`], ['Packed size', (r) => `${between(r, 30, 60)} × ${between(r, 12, 25)} cm`]],
  },
  {
    department: 'Outdoor', category: 'Footwear', nouns: ['hiking boots', 'trail running shoes', 'approach shoes', 'winter boots', 'sandals'],
    adjectives: ['leather', 'waterproof', 'cushioned', 'grippy', 'lightweight'], uses: ['rocky paths', 'muddy forest tracks', 'long-distance trails', 'snowy streets'],
    features: ['a Vibram outsole', 'a waterproof membrane', 'a rubber toe cap', 'a rock plate', 'resoleable construction', 'speed laces'],
    specs: [['Weight per pair', grams(40, 160)], ['Drop', (r) => `${between(r, 0, 12)} mm`], ['Upper', (r) => pick(r, ['nubuck leather', 'synthetic mesh', 'full-grain leather', 'recycled knit'])], ['Sizes', (r) => `EU ${between(r, 35, 38)}–${between(r, 45, 48)}`]],
    sizes: ['38', '39', '40', '41', '42', '43', '44', '45', '46'],
  },
  {
    department: 'Home', category: 'Kitchen & dining', nouns: ['frying pan', 'casserole dish', 'chef knife', 'chopping board', 'teapot', 'serving bowl'],
    adjectives: ['cast-iron', 'enamelled', 'hand-forged', 'oak', 'stoneware', 'copper'], uses: ['slow Sunday cooking', 'everyday family meals', 'dinner parties', 'small kitchens'],
    features: ['an induction-ready base', 'a helper handle', 'a pouring lip', 'a juice groove', 'a dishwasher-safe glaze', 'a riveted handle'],
    specs: [['Diameter', cm(12, 32)], ['Weight', (r) => `${(between(r, 3, 40) / 10).toFixed(1)} kg`], ['Material', (r) => pick(r, ['cast iron', 'carbon steel', 'European oak', 'stoneware', 'stainless steel 18/10'])], ['Care', (r) => pick(r, ['hand wash and oil lightly', 'dishwasher safe', 'hand wash only'])]],
  },
  {
    department: 'Home', category: 'Lighting & textiles', nouns: ['pendant lamp', 'table lamp', 'lantern', 'wool throw', 'linen duvet cover', 'cushion cover'],
    adjectives: ['rattan', 'rechargeable', 'linen', 'lambswool', 'dimmable', 'hand-woven'], uses: ['long evenings on the sofa', 'the reading corner', 'the guest room', 'balcony dinners'],
    features: ['a warm white LED', 'USB-C charging', 'a fabric cable', 'fringed ends', 'a hidden zip', 'a stone-washed finish'],
    specs: [['Size', (r) => `${between(r, 30, 200)} × ${between(r, 30, 220)} cm`], ['Bulb', (r) => pick(r, ['E27, max. 40 W', 'E14, max. 25 W', 'integrated LED, 300 lm'])], ['Material', (r) => pick(r, ['rattan', '100% linen', 'lambswool', 'cotton', 'aluminium'])], ['Cable length', (r) => `${between(r, 10, 30) / 10} m`]],
  },
  {
    department: 'Garden', category: 'Garden & balcony', nouns: ['folding chair', 'raised planter', 'watering can', 'bench', 'bird feeder', 'plant stand'],
    adjectives: ['teak', 'cedar', 'galvanised', 'weatherproof', 'compact', 'foldable'], uses: ['small balconies', 'the patio', 'kitchen gardens', 'summer evenings outside'],
    features: ['tool-free assembly', 'drainage holes', 'a brass rose', 'a fleece liner', 'UV-stable paint', 'folds flat for winter'],
    specs: [['Dimensions', (r) => `${between(r, 30, 150)} × ${between(r, 30, 80)} × ${between(r, 40, 100)} cm`], ['Maximum load', (r) => `${between(r, 8, 20) * 10} kg`], ['Wood', (r) => pick(r, ['FSC teak', 'western red cedar', 'larch', 'acacia'])], ['Capacity', (r) => `${between(r, 5, 250)} L`]],
  },
];

const SYLLABLES = ['ash', 'brook', 'cairn', 'dale', 'elm', 'fern', 'glen', 'heath', 'ivy', 'kest', 'lark', 'moss', 'north', 'oak', 'pine', 'quill', 'ridge', 'stone', 'thorn', 'vale', 'wren', 'yew'];
const ENDINGS = ['field', 'mere', 'wick', 'ford', 'line', 'crest', 'way', 'holt', 'stead', 'ton'];

/** A model name such as "Ashmere": unique per product (a number is added after the 220 combinations). */
function modelName(random: Random, taken: Set<string>): string {
  const base = pick(random, SYLLABLES) + pick(random, ENDINGS);
  let name = base.charAt(0).toUpperCase() + base.slice(1);
  for (let n = 2; taken.has(name); n += 1) name = `${base.charAt(0).toUpperCase() + base.slice(1)} ${n}`;
  taken.add(name);
  return name;
}

function product(random: Random, n: number, taken: Set<string>, tenant: string, storeId: number) {
  const kind = pick(random, KINDS);
  const model = modelName(random, taken);
  const noun = pick(random, kind.nouns);
  const adjective = pick(random, kind.adjectives);
  const name = `${model} ${adjective} ${noun}`;
  const sku = `SYN-${String(n).padStart(6, '0')}`;
  const features = some(random, kind.features, between(random, 3, 5));
  const specs = kind.specs.map(([label, value]) => [label, value(random)] as const);
  const colours = some(random, COLOURS, between(random, 1, 3));
  const [use, otherUse] = some(random, kind.uses, 2);
  const price = Math.round((9 + random() * 400) * 100) / 100;
  const qty = between(random, 0, 80);
  const description =
    `<p>The ${model} is a ${adjective} ${noun} made for ${use}. ${pick(random, ['We tested it for a season before it went on sale.', 'It is built to last for years and to be repaired when it breaks.', 'Customers asked for it, and our buyers spent a year finding the right maker.'])}</p>` +
    `<p>It works just as well for ${otherUse}, and it comes with ${features[0]}.</p>` +
    `<h3>Features</h3><ul>${features.map((f) => `<li>${f.charAt(0).toUpperCase()}${f.slice(1)}</li>`).join('')}</ul>` +
    `<h3>Specifications</h3><table class="specs"><tbody>${specs.map(([label, value]) => `<tr><th>${label}</th><td>${value}</td></tr>`).join('')}</tbody></table>`;
  const data = {
    sku,
    name,
    description,
    short_description: `${adjective.charAt(0).toUpperCase()}${adjective.slice(1)} ${noun} for ${use}.`,
    url_key: slug(`${name} ${sku}`),
    categories: [kind.department, kind.category],
    brand: pick(random, BRANDS),
    attributes: { colour: colours.join(', '), ...(kind.sizes ? { size: some(random, kind.sizes, between(random, 3, kind.sizes.length)).join(', ') } : {}) },
    status: 'enabled',
    visibility: 4,
    price,
    currency: 'EUR',
    qty,
    stock_status: qty > 0 ? 'in_stock' : 'out_of_stock',
  };
  const key = `${tenant}/product/${sku}/${storeId}`;
  const [label] = pick(random, specs);
  const question = pick(random, [`what is the ${label.toLowerCase()} of the ${model} ${noun}`, `${label.toLowerCase()} of the ${model}`, `${model} ${noun} ${label.toLowerCase()}`]);
  return { line: { type: 'product', tenant, store_id: storeId, id: sku, action: 'save', data }, query: { query: question, expect: [key], tags: ['table'] } };
}

function categories(tenant: string, storeId: number): Array<Record<string, unknown>> {
  const departments = [...new Set(KINDS.map((k) => k.department))];
  const line = (id: number, name: string, parents: string[]) => ({
    type: 'category', tenant, store_id: storeId, id: String(id), action: 'save',
    data: { name, description: `<p>${name}${parents.length > 0 ? ` in our ${parents[0]!.toLowerCase()} range` : ''}.</p>`, url_path: [...parents, name].map(slug).join('/'), full_path: [...parents, name].join(' > '), parent_names: parents, level: parents.length + 2, product_count: 0, is_active: true },
  });
  return [...departments.map((d, i) => line(100 + i, d, [])), ...KINDS.map((k, i) => line(200 + i, k.category, [k.department]))];
}

/** The catalog and its evaluation set; deterministic in `seed`. */
export function generateCatalog(options: CatalogOptions): GeneratedCatalog {
  const random = prng(options.seed);
  const tenant = options.tenant ?? 'bench';
  const storeId = options.storeId ?? 1;
  const taken = new Set<string>();
  const lines = categories(tenant, storeId);
  const candidates: GeneratedCatalog['queries'] = [];
  for (let n = 0; n < options.count; n += 1) {
    const { line, query } = product(random, n, taken, tenant, storeId);
    lines.push(line);
    candidates.push(query);
  }
  const wanted = Math.min(options.queryCount ?? 200, candidates.length);
  const step = candidates.length / Math.max(1, wanted);
  const queries = Array.from({ length: wanted }, (_, i) => candidates[Math.floor(i * step)]!);
  return { lines, queries };
}

const toNdjson = (rows: readonly object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '1000' }, seed: { type: 'string', default: '7' }, tenant: { type: 'string', default: 'bench' }, out: { type: 'string' }, queries: { type: 'string' }, 'query-count': { type: 'string', default: '200' } },
  });
  const catalog = generateCatalog({ count: Number(values.count), seed: Number(values.seed), tenant: values.tenant, queryCount: Number(values['query-count']) });
  if (values.out) writeFileSync(values.out, toNdjson(catalog.lines));
  else process.stdout.write(toNdjson(catalog.lines));
  if (values.queries) writeFileSync(values.queries, toNdjson(catalog.queries));
}
