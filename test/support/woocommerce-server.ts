import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback WooCommerce REST API v3 (`/wp-json/wc/v3`) that checks every request the way
 * WooCommerce does (vendor-specs/commerce-apis.md, class-wc-rest-authentication.php,
 * class-wc-rest-controller.php) and answers with WooCommerce's status codes and error bodies.
 *
 * - Auth: HTTP Basic (or `consumer_key`/`consumer_secret` in the query) only when told it is behind
 *   HTTPS; otherwise OAuth 1.0a one-legged, checked by the verifier below, written from RFC 5849
 *   §3.4 and WooCommerce's rules (HMAC-SHA1/HMAC-SHA256, key = secret + "&", no token, timestamp
 *   within ±15 minutes, a nonce is refused the second time, `oauth_version` optional).
 * - Products and variations: GET with `sku` (exact, comma list), `include`, `per_page` ≤ 100, `page`;
 *   batch with at most 100 items (413 over), per-item errors with status 200, duplicate SKU →
 *   `product_invalid_sku` with `resource_id`, field types as WooCommerce's schema, `meta_data` by key.
 * - Orders: GET with `status`, `modified_after` (+ `dates_are_gmt`), `orderby`, `order`, `per_page`, `page`.
 * - Faults: per-SKU item errors, 503 for a fraction of calls, the next calls answered 429 with
 *   Retry-After, latency (a call whose client has gone by then is not handled), offline
 *   (connections dropped).
 */

export interface StoredMeta {
  id: number;
  key: string;
  value: unknown;
}

export interface StoredProduct {
  id: number;
  type: string;
  parent_id: number;
  name: string;
  sku: string;
  status: string;
  description: string;
  short_description: string;
  regular_price: string;
  sale_price: string;
  date_on_sale_from_gmt: string | null;
  date_on_sale_to_gmt: string | null;
  manage_stock: boolean;
  stock_quantity: number | null;
  stock_status: string;
  meta_data: StoredMeta[];
  date_modified_gmt: string;
}

export interface StoredOrder {
  id: number;
  number: string;
  status: string;
  currency: string;
  total: string;
  total_tax: string;
  shipping_total: string;
  discount_total: string;
  customer_id: number;
  date_created_gmt: string;
  date_modified_gmt: string;
  billing: Record<string, string>;
  shipping: Record<string, string>;
  customer_note: string;
  line_items: { id: number; name: string; sku: string; quantity: number; price: number; subtotal: string; total: string }[];
}

export interface ItemFault {
  status: number;
  code: string;
  message: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  auth: 'basic' | 'oauth' | 'none';
  /** Items of a batch call (create + update + delete). */
  items?: number;
  /** SKUs of the batch's create and update items, in order. */
  skus?: string[];
  status: number;
  /** When the request arrived (its body read). */
  at?: number;
  /** When its headers arrived. */
  receivedAt?: number;
  /** When the answer was sent (later than `at` under latency). */
  answeredAt?: number;
  /** The query string, `?` included (empty when none). */
  query?: string;
  /** The answer's Retry-After, when it had one. */
  retryAfterSeconds?: number;
}

export interface WooServerOptions {
  consumerKey?: string;
  consumerSecret?: string;
  /** Treat requests as HTTPS (a TLS proxy in front): HTTP Basic is accepted, OAuth is not checked. */
  https?: boolean;
  /** Site time = GMT + this many minutes (what `modified_after` means without `dates_are_gmt`). @defaultValue 120 */
  siteOffsetMinutes?: number;
  /** The server's clock for OAuth timestamps. */
  now?: () => number;
  /** @defaultValue 100 (`woocommerce_rest_batch_items_limit`) */
  batchLimit?: number;
}

const API = '/wp-json/wc/v3';
const WINDOW_SECONDS = 15 * 60;
const PRODUCT_STATUSES = ['draft', 'pending', 'private', 'publish'];
const STOCK_STATUSES = ['instock', 'outofstock', 'onbackorder'];
const TYPES = ['simple', 'grouped', 'external', 'variable'];
const DATE_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$/;
const PRICE = /^([0-9]+(\.[0-9]+)?)?$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const gmt = (ms: number) => new Date(ms).toISOString().slice(0, 19);

/** RFC 3986 percent-encoding (RFC 5849 §3.6), written here independently of the client's signer. */
function rfc3986(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const byte of bytes) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * RFC 5849 §3.4.1 signature base string: method, base string URI (scheme and host lowercase, default
 * port dropped, path, no query), normalized parameters (each name and value encoded, sorted by name
 * then value, `name=value` joined by `&`), each part encoded and joined by `&`.
 */
export function verifierBaseString(method: string, scheme: string, host: string, path: string, params: [string, string][]): string {
  const lowerHost = host.toLowerCase();
  const defaultPort = scheme === 'https' ? ':443' : ':80';
  const authority = lowerHost.endsWith(defaultPort) ? lowerHost.slice(0, -defaultPort.length) : lowerHost;
  const uri = `${scheme.toLowerCase()}://${authority}${path}`;
  const pairs = params.map(([k, v]) => [rfc3986(k), rfc3986(v)] as [string, string]);
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
  const normalized = pairs.map(([k, v]) => `${k}=${v}`).join('&');
  return `${method.toUpperCase()}&${rfc3986(uri)}&${rfc3986(normalized)}`;
}

/** Query parameters as RFC 5849 §3.4.1.3.1 reads them: `+` is a space only in form encoding, which URLSearchParams applies. */
function queryParams(url: URL): [string, string][] {
  return [...url.searchParams.entries()];
}

function authError(message: string, code = 'woocommerce_rest_authentication_error'): HttpError {
  return new HttpError(401, code, message, { status: 401 });
}

function invalidParam(name: string, reason: string): HttpError {
  return new HttpError(400, 'rest_invalid_param', `Invalid parameter(s): ${name}`, { status: 400, params: { [name]: reason }, details: {} });
}

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class WooTestServer {
  readonly consumerKey: string;
  readonly consumerSecret: string;
  url = '';
  https: boolean;
  readonly requests: RecordedRequest[] = [];
  /** Why requests were refused at the door (401s), newest last. */
  readonly authFailures: string[] = [];
  readonly faults = {
    failSkus: new Map<string, ItemFault>(),
    unavailableRate: 0,
    retryAfterSeconds: 1,
    offline: false,
    /** The next this many calls are answered 429 with `Retry-After: retryAfterSeconds`. */
    tooManyRequests: 0,
    /** The next `times` calls (every call without it) are held `ms` before they are handled. */
    latency: undefined as { ms: number; times?: number } | undefined,
  };
  private readonly products = new Map<number, StoredProduct>();
  private readonly gone = new Map<number, StoredProduct>();
  private readonly orders = new Map<number, StoredOrder>();
  private readonly nonces = new Map<string, number>();
  private readonly server: Server;
  private readonly random = seeded(7);
  private nextId = 100;
  private nextMetaId = 1;
  private readonly siteOffsetMs: number;
  private readonly now: () => number;
  private readonly batchLimit: number;

  constructor(options: WooServerOptions = {}) {
    this.consumerKey = options.consumerKey ?? 'ck_4f1d0a7c2b9e8d6f5a3c1b0e9d8c7b6a5f4e3d2c';
    this.consumerSecret = options.consumerSecret ?? 'cs_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d';
    this.https = options.https ?? false;
    this.siteOffsetMs = (options.siteOffsetMinutes ?? 120) * 60_000;
    this.now = options.now ?? Date.now;
    this.batchLimit = options.batchLimit ?? 100;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- readable state ----

  allProducts(): StoredProduct[] {
    return [...this.products.values()].map((p) => structuredClone(p));
  }

  product(id: number): StoredProduct | undefined {
    const found = this.products.get(id);
    return found && structuredClone(found);
  }

  bySku(sku: string): StoredProduct | undefined {
    const found = [...this.products.values()].find((p) => p.sku === sku);
    return found && structuredClone(found);
  }

  deletedProducts(): StoredProduct[] {
    return [...this.gone.values()].map((p) => structuredClone(p));
  }

  meta(product: StoredProduct | undefined, key: string): unknown {
    return product?.meta_data.find((m) => m.key === key)?.value;
  }

  // ---- setting the shop up as a shop manager would ----

  addProduct(fields: Partial<StoredProduct>): StoredProduct {
    const product = this.blank(fields.type === 'variation' ? 'variation' : (fields.type ?? 'simple'), fields.parent_id ?? 0);
    Object.assign(product, fields, { id: this.nextId++ });
    this.products.set(product.id, product);
    return structuredClone(product);
  }

  /** An edit in wp-admin: fields and meta set directly, no checks. */
  editProduct(id: number, fields: Partial<StoredProduct>): void {
    const product = this.products.get(id);
    if (!product) throw new Error(`no product ${id}`);
    Object.assign(product, fields, { date_modified_gmt: gmt(this.now()) });
  }

  addOrder(order: Partial<StoredOrder> & { modifiedMs: number }): StoredOrder {
    const id = this.nextId++;
    const { modifiedMs, ...fields } = order;
    const stored: StoredOrder = {
      id,
      number: String(id),
      status: 'processing',
      currency: 'EUR',
      total: '42.50',
      total_tax: '6.79',
      shipping_total: '4.90',
      discount_total: '0.00',
      customer_id: 0,
      date_created_gmt: gmt(modifiedMs),
      date_modified_gmt: gmt(modifiedMs),
      billing: { first_name: 'Jana', last_name: 'Novak', email: `jana.novak.${id}@mail.example`, phone: '+49 30 1234567', address_1: 'Lindenweg 12', city: 'Leipzig' },
      shipping: { first_name: 'Jana', last_name: 'Novak', address_1: 'Lindenweg 12', city: 'Leipzig', postcode: '04109' },
      customer_note: 'Bitte beim Nachbarn abgeben',
      line_items: [{ id: id * 10, name: 'Oak desk lamp', sku: 'LAMP-OAK', quantity: 2, price: 18.8, subtotal: '37.60', total: '37.60' }],
      ...fields,
    };
    this.orders.set(id, stored);
    return structuredClone(stored);
  }

  modifyOrder(id: number, fields: Partial<StoredOrder>, modifiedMs: number): void {
    const order = this.orders.get(id);
    if (!order) throw new Error(`no order ${id}`);
    Object.assign(order, fields, { date_modified_gmt: gmt(modifiedMs) });
  }

  // ---- the HTTP side ----

  private record(entry: RecordedRequest): void {
    this.requests.push(entry);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.faults.offline) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const method = req.method ?? 'GET';
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const entry: RecordedRequest = { method, path: url.pathname, auth: 'none', status: 0, at: Date.now(), receivedAt, query: url.search };
    const latency = this.faults.latency;
    if (latency && (latency.times === undefined || latency.times > 0)) {
      if (latency.times !== undefined) latency.times -= 1;
      await new Promise((resolve) => setTimeout(resolve, latency.ms));
      if (req.socket.destroyed) {
        this.record(entry);
        return;
      }
    }
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      entry.answeredAt = Date.now();
      const retryAfter = Object.entries(headers).find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
      if (retryAfter !== undefined) entry.retryAfterSeconds = Number(retryAfter);
      this.record(entry);
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (this.faults.tooManyRequests > 0) {
        this.faults.tooManyRequests -= 1;
        send(429, { code: 'woocommerce_rest_too_many_requests', message: 'Too many requests.', data: { status: 429 } }, { 'retry-after': String(this.faults.retryAfterSeconds) });
        return;
      }
      if (this.faults.unavailableRate > 0 && this.random() < this.faults.unavailableRate) {
        entry.status = 503;
        entry.answeredAt = Date.now();
        entry.retryAfterSeconds = this.faults.retryAfterSeconds;
        this.record(entry);
        res.writeHead(503, { 'content-type': 'text/html', 'retry-after': String(this.faults.retryAfterSeconds) });
        res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
        return;
      }
      if (!url.pathname.startsWith(`${API}/`)) throw new HttpError(404, 'rest_no_route', 'No route was found matching the URL and request method.', { status: 404 });
      entry.auth = this.authenticate(req, url, method);
      const route = url.pathname.slice(API.length);
      const result = this.route(method, route, url, req, raw, entry);
      send(200, result.body, result.headers);
    } catch (error) {
      if (error instanceof HttpError) send(error.status, { code: error.code, message: error.message, data: error.data });
      else send(500, { code: 'internal_server_error', message: 'There has been a critical error on this website.', data: { status: 500 } });
    }
  }

  /** WC_REST_Authentication: Basic over HTTPS, OAuth 1.0a over HTTP; no credentials → a guest. */
  private authenticate(req: IncomingMessage, url: URL, method: string): 'basic' | 'oauth' | 'none' {
    if (this.https) {
      const header = req.headers.authorization ?? '';
      let key: string | undefined;
      let secret: string | undefined;
      if (header.startsWith('Basic ')) [key, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      else if (url.searchParams.has('consumer_key')) [key, secret] = [url.searchParams.get('consumer_key')!, url.searchParams.get('consumer_secret') ?? ''];
      if (key === undefined) return 'none';
      if (key !== this.consumerKey) throw this.refuse('Consumer key is invalid.');
      if (!this.equalText(secret ?? '', this.consumerSecret)) throw this.refuse('Consumer secret is invalid.');
      return 'basic';
    }
    const params = queryParams(url);
    const header = req.headers.authorization ?? '';
    if (header.startsWith('OAuth ')) {
      for (const part of header.slice(6).split(',')) {
        const match = /^\s*([^=]+)="([^"]*)"\s*$/.exec(part);
        if (match && match[1] !== 'realm') params.push([decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)]);
      }
    }
    const get = (name: string) => params.find(([k]) => k === name)?.[1];
    if (get('oauth_consumer_key') === undefined && get('oauth_signature') === undefined) return 'none';
    for (const name of ['oauth_consumer_key', 'oauth_timestamp', 'oauth_nonce', 'oauth_signature', 'oauth_signature_method']) {
      if (get(name) === undefined) throw this.refuse(`Missing OAuth parameter ${name}`, 'woocommerce_rest_authentication_missing_parameter');
    }
    if (get('oauth_consumer_key') !== this.consumerKey) throw this.refuse('Consumer key is invalid.');
    const signatureMethod = get('oauth_signature_method');
    const algorithm = signatureMethod === 'HMAC-SHA1' ? 'sha1' : signatureMethod === 'HMAC-SHA256' ? 'sha256' : undefined;
    if (!algorithm) throw this.refuse('Invalid signature - signature method is invalid.');
    const signed = params.filter(([k]) => k !== 'oauth_signature');
    const base = verifierBaseString(method, 'http', req.headers.host ?? '', url.pathname, signed);
    const expected = createHmac(algorithm, `${this.consumerSecret}&`).update(base).digest('base64');
    if (!this.equalText(get('oauth_signature')!, expected)) throw this.refuse('Invalid signature - provided signature does not match.');
    const timestamp = Number(get('oauth_timestamp'));
    const now = Math.floor(this.now() / 1000);
    if (!Number.isInteger(timestamp) || timestamp < now - WINDOW_SECONDS || timestamp > now + WINDOW_SECONDS) throw this.refuse('Invalid timestamp.');
    for (const [nonce, at] of this.nonces) if (at < now - WINDOW_SECONDS) this.nonces.delete(nonce);
    const nonce = get('oauth_nonce')!;
    if (this.nonces.has(nonce)) throw this.refuse('Invalid nonce - nonce has already been used.');
    this.nonces.set(nonce, timestamp);
    return 'oauth';
  }

  private refuse(message: string, code?: string): HttpError {
    this.authFailures.push(message);
    return authError(message, code);
  }

  private equalText(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }

  private route(method: string, route: string, url: URL, req: IncomingMessage, raw: string, entry: RecordedRequest): { body: unknown; headers?: Record<string, string> } {
    const guest = entry.auth === 'none';
    let match: RegExpExecArray | null;
    if (route === '/products' && method === 'GET') {
      if (guest) throw authError('Sorry, you cannot list resources.', 'woocommerce_rest_cannot_view');
      return this.list([...this.products.values()].filter((p) => p.type !== 'variation'), url);
    }
    if ((match = /^\/products\/([0-9]+)\/variations$/.exec(route)) && method === 'GET') {
      if (guest) throw authError('Sorry, you cannot list resources.', 'woocommerce_rest_cannot_view');
      const parent = Number(match[1]);
      return this.list([...this.products.values()].filter((p) => p.type === 'variation' && p.parent_id === parent), url);
    }
    if (route === '/products/batch' && method === 'POST') {
      if (guest) throw authError('Sorry, you are not allowed to batch manipulate this resource.', 'woocommerce_rest_cannot_batch');
      return { body: this.batch(this.jsonBody(req, raw), undefined, entry) };
    }
    if ((match = /^\/products\/([0-9]+)\/variations\/batch$/.exec(route)) && method === 'POST') {
      if (guest) throw authError('Sorry, you are not allowed to batch manipulate this resource.', 'woocommerce_rest_cannot_batch');
      const parent = this.products.get(Number(match[1]));
      if (!parent || parent.type !== 'variable') throw new HttpError(404, 'woocommerce_rest_product_invalid_id', 'Invalid ID.', { status: 404 });
      return { body: this.batch(this.jsonBody(req, raw), parent.id, entry) };
    }
    if (route === '/orders' && method === 'GET') {
      if (guest) throw authError('Sorry, you cannot list resources.', 'woocommerce_rest_cannot_view');
      return this.listOrders(url);
    }
    throw new HttpError(404, 'rest_no_route', 'No route was found matching the URL and request method.', { status: 404 });
  }

  private jsonBody(req: IncomingMessage, raw: string): Record<string, unknown> {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new HttpError(400, 'rest_invalid_json', 'Invalid JSON body passed (expected Content-Type: application/json).', { status: 400 });
    }
    try {
      const body = JSON.parse(raw) as unknown;
      if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
    } catch {
      // answered below
    }
    throw new HttpError(400, 'rest_invalid_json', 'Invalid JSON body passed.', { status: 400 });
  }

  private pageParams(url: URL): { perPage: number; page: number } {
    const perPage = Number(url.searchParams.get('per_page') ?? '10');
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) throw invalidParam('per_page', 'per_page must be between 1 (inclusive) and 100 (inclusive)');
    const page = Number(url.searchParams.get('page') ?? '1');
    if (!Number.isInteger(page) || page < 1) throw invalidParam('page', 'page must be greater than or equal to 1');
    return { perPage, page };
  }

  private paged<T>(items: T[], url: URL): { body: T[]; headers: Record<string, string> } {
    const { perPage, page } = this.pageParams(url);
    const pages = Math.ceil(items.length / perPage);
    if (page > 1 && page > pages) throw new HttpError(400, 'rest_post_invalid_page_number', 'The page number requested is larger than the number of pages available.', { status: 400 });
    const link = new URL(url);
    const links: string[] = [];
    if (page < pages) {
      link.searchParams.set('page', String(page + 1));
      links.push(`<${link.pathname}${link.search}>; rel="next"`);
    }
    return { body: items.slice((page - 1) * perPage, page * perPage), headers: { 'x-wp-total': String(items.length), 'x-wp-totalpages': String(pages), ...(links.length ? { link: links.join(', ') } : {}) } };
  }

  private list(products: StoredProduct[], url: URL): { body: unknown; headers: Record<string, string> } {
    let found = products;
    const sku = url.searchParams.get('sku');
    if (sku !== null && sku !== '') {
      const skus = sku.split(',');
      // WooCommerce adds the whole string as a SKU too when it holds commas.
      if (skus.length > 1) skus.push(sku);
      found = found.filter((p) => skus.includes(p.sku));
    }
    const include = url.searchParams.get('include');
    if (include !== null && include !== '') {
      const ids = include.split(',').map(Number);
      if (ids.some((id) => !Number.isInteger(id))) throw invalidParam('include', 'include[0] is not of type integer.');
      found = found.filter((p) => ids.includes(p.id));
    }
    found = [...found].sort((a, b) => b.id - a.id);
    return this.paged(found.map((p) => structuredClone(p)), url);
  }

  private listOrders(url: URL): { body: unknown; headers: Record<string, string> } {
    let found = [...this.orders.values()];
    const status = url.searchParams.get('status') ?? 'any';
    if (status !== 'any') {
      const statuses = status.split(',');
      found = found.filter((o) => statuses.includes(o.status));
    }
    const after = url.searchParams.get('modified_after');
    if (after !== null) {
      if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:?[0-9]{2})?$/.test(after)) throw invalidParam('modified_after', 'Invalid date.');
      const gmtDates = ['true', '1'].includes(url.searchParams.get('dates_are_gmt') ?? '');
      const limit = Date.parse(/Z|[+-][0-9]{2}:?[0-9]{2}$/.test(after) ? after : `${after}Z`) - (gmtDates ? 0 : this.siteOffsetMs);
      found = found.filter((o) => Date.parse(`${o.date_modified_gmt}Z`) > limit);
    }
    const orderby = url.searchParams.get('orderby') ?? 'date';
    if (!['date', 'id', 'include', 'title', 'slug', 'modified'].includes(orderby)) throw invalidParam('orderby', 'orderby is not one of date, id, include, title, slug, and modified.');
    const key = (o: StoredOrder) => (orderby === 'modified' ? o.date_modified_gmt : orderby === 'date' ? o.date_created_gmt : String(o.id).padStart(12, '0'));
    const asc = (url.searchParams.get('order') ?? 'desc') === 'asc';
    found.sort((a, b) => (key(a) === key(b) ? a.id - b.id : key(a) < key(b) ? -1 : 1) * (asc ? 1 : -1));
    return this.paged(found.map((o) => structuredClone(o)), url);
  }

  private blank(type: string, parentId: number): StoredProduct {
    return {
      id: 0,
      type,
      parent_id: parentId,
      name: '',
      sku: '',
      status: 'publish',
      description: '',
      short_description: '',
      regular_price: '',
      sale_price: '',
      date_on_sale_from_gmt: null,
      date_on_sale_to_gmt: null,
      manage_stock: false,
      stock_quantity: null,
      stock_status: 'instock',
      meta_data: [],
      date_modified_gmt: gmt(this.now()),
    };
  }

  /** Checks an item's fields against WooCommerce's product schema; the first wrong one is the error. */
  private checkFields(item: Record<string, unknown>, variation: boolean): void {
    const strings = ['name', 'sku', 'description', 'short_description', 'regular_price', 'sale_price'];
    for (const name of strings) if (name in item && typeof item[name] !== 'string') throw invalidParam(name, `${name} is not of type string.`);
    for (const name of ['regular_price', 'sale_price']) if (name in item && !PRICE.test(item[name] as string)) throw invalidParam(name, `${name} is not a decimal number.`);
    if ('status' in item && !PRODUCT_STATUSES.includes(item.status as string)) throw invalidParam('status', `status is not one of ${PRODUCT_STATUSES.join(', ')}.`);
    if ('type' in item && (variation || !TYPES.includes(item.type as string))) throw invalidParam('type', `type is not one of ${TYPES.join(', ')}.`);
    if ('stock_status' in item && !STOCK_STATUSES.includes(item.stock_status as string)) throw invalidParam('stock_status', `stock_status is not one of ${STOCK_STATUSES.join(', ')}.`);
    if ('manage_stock' in item && typeof item.manage_stock !== 'boolean') throw invalidParam('manage_stock', 'manage_stock is not of type boolean.');
    if ('stock_quantity' in item && !Number.isInteger(item.stock_quantity)) throw invalidParam('stock_quantity', 'stock_quantity is not of type integer.');
    for (const name of ['date_on_sale_from_gmt', 'date_on_sale_to_gmt']) {
      if (name in item && item[name] !== null && (typeof item[name] !== 'string' || !DATE_TIME.test(item[name] as string))) throw invalidParam(name, `${name} is not of type string,null or not a date-time.`);
    }
    if ('meta_data' in item) {
      const meta = item.meta_data;
      if (!Array.isArray(meta)) throw invalidParam('meta_data', 'meta_data is not of type array.');
      for (const [i, entry] of meta.entries()) {
        if (!entry || typeof entry !== 'object' || typeof (entry as { key?: unknown }).key !== 'string') throw invalidParam('meta_data', `meta_data[${i}][key] is not of type string.`);
      }
    }
  }

  private skuOwner(sku: string, except: number): number | undefined {
    if (sku === '') return undefined;
    for (const p of this.products.values()) if (p.sku === sku && p.id !== except) return p.id;
    return undefined;
  }

  private apply(product: StoredProduct, item: Record<string, unknown>): void {
    for (const name of ['name', 'sku', 'status', 'description', 'short_description', 'regular_price', 'sale_price', 'date_on_sale_from_gmt', 'date_on_sale_to_gmt', 'manage_stock', 'stock_quantity', 'stock_status', 'type'] as const) {
      if (name in item) (product as unknown as Record<string, unknown>)[name] = item[name];
    }
    for (const entry of (item.meta_data as { key: string; value: unknown }[] | undefined) ?? []) {
      const at = product.meta_data.findIndex((m) => m.key === entry.key);
      if (entry.value === null) {
        if (at >= 0) product.meta_data.splice(at, 1);
      } else if (at >= 0) product.meta_data[at]!.value = entry.value;
      else product.meta_data.push({ id: this.nextMetaId++, key: entry.key, value: entry.value });
    }
    // WooCommerce keeps no quantity for unmanaged stock and computes the status of managed stock.
    if (!product.manage_stock) product.stock_quantity = null;
    else product.stock_status = (product.stock_quantity ?? 0) > 0 ? 'instock' : 'outofstock';
    if (product.sale_price === '') {
      product.date_on_sale_from_gmt = null;
      product.date_on_sale_to_gmt = null;
    }
    product.date_modified_gmt = gmt(this.now());
  }

  private fault(sku: string): HttpError | undefined {
    const f = this.faults.failSkus.get(sku);
    return f && new HttpError(f.status, f.code, f.message, { status: f.status });
  }

  private batch(body: Record<string, unknown>, parent: number | undefined, entry: RecordedRequest): Record<string, unknown[]> {
    const creates = (body.create ?? []) as Record<string, unknown>[];
    const updates = (body.update ?? []) as Record<string, unknown>[];
    const deletes = (body.delete ?? []) as unknown[];
    if (![creates, updates, deletes].every(Array.isArray)) throw invalidParam('create', 'create, update and delete must be arrays.');
    entry.items = creates.length + updates.length + deletes.length;
    entry.skus = [...creates, ...updates].map((i) => String(i.sku ?? this.products.get(Number(i.id))?.sku ?? ''));
    if (entry.items > this.batchLimit) {
      throw new HttpError(413, 'woocommerce_rest_request_entity_too_large', `Unable to accept more than ${this.batchLimit} items for this request.`, { status: 413 });
    }
    const variation = parent !== undefined;
    const invalidId = (status: number) => new HttpError(status, `woocommerce_rest_${variation ? 'product_variation' : 'product'}_invalid_id`, 'Invalid ID.', { status });
    const asItem = (id: number, run: () => StoredProduct): unknown => {
      try {
        return run();
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        return { id, error: { code: error.code, message: error.message, data: error.data } };
      }
    };
    const out: Record<string, unknown[]> = {};
    if (body.create !== undefined) {
      out.create = creates.map((item) =>
        asItem(0, () => {
          this.checkFields(item, variation);
          const sku = (item.sku as string | undefined) ?? '';
          const owner = this.skuOwner(sku, -1);
          if (owner !== undefined) throw new HttpError(400, 'product_invalid_sku', 'Invalid or duplicated SKU.', { status: 400, resource_id: owner, unique_sku: sku });
          const fault = this.fault(sku);
          if (fault) throw fault;
          const product = this.blank(variation ? 'variation' : 'simple', parent ?? 0);
          product.id = this.nextId++;
          this.apply(product, item);
          this.products.set(product.id, product);
          return structuredClone(product);
        }),
      );
    }
    if (body.update !== undefined) {
      out.update = updates.map((item) => {
        const id = Number(item.id);
        return asItem(Number.isInteger(id) ? id : 0, () => {
          if (!Number.isInteger(item.id)) throw invalidParam('id', 'id is not of type integer.');
          const product = this.products.get(id);
          if (!product || (variation ? product.parent_id !== parent || product.type !== 'variation' : product.type === 'variation')) throw invalidId(400);
          this.checkFields(item, variation);
          if (typeof item.sku === 'string') {
            const owner = this.skuOwner(item.sku, id);
            if (owner !== undefined) throw new HttpError(400, 'product_invalid_sku', 'Invalid or duplicated SKU.', { status: 400, resource_id: owner, unique_sku: item.sku });
          }
          const fault = this.fault((item.sku as string | undefined) ?? product.sku);
          if (fault) throw fault;
          this.apply(product, item);
          return structuredClone(product);
        });
      });
    }
    if (body.delete !== undefined) {
      out.delete = deletes.map((raw) => {
        const id = Number(raw);
        return asItem(id, () => {
          const product = this.products.get(id);
          if (!product || (variation ? product.parent_id !== parent : product.type === 'variation')) throw invalidId(404);
          this.products.delete(id);
          this.gone.set(id, product);
          return structuredClone(product);
        });
      });
    }
    return out;
  }
}

export async function startWooServer(options: WooServerOptions = {}): Promise<WooTestServer> {
  return new WooTestServer(options).start();
}
