import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/**
 * A Shopware 6 Admin API on 127.0.0.1 for tests (no Shopware can run here), the endpoints ragsync
 * uses, answering like Shopware 6.6 does (AuthController, ApiAuthenticationListener,
 * SyncController/SyncService, the DAL write validation, ErrorResponseFactory):
 *
 * - `POST /api/oauth/token`: client credentials (JSON or form), throttled per client like
 *   Shopware's `oauth` limiter (10 in 10 s, 15 in 30 s, 20 in 60 s; a successful login resets it,
 *   as AuthController does) with 429 `FRAMEWORK__AUTH_THROTTLED` and the wait in
 *   `errors[0].meta.parameters.seconds`, no Retry-After;
 * - a Bearer token on every other call (unknown or expired: 401 code 9);
 * - `POST /api/_action/sync`: every operation and payload item checked (fields, types, required
 *   fields on create, the default currency price, 32-hex ids or the product.number resolver,
 *   unknown fields refused), the whole body one transaction: any error → 400 with every error and
 *   its `source.pointer` `/<operation>/<index>/<field>`, nothing written;
 * - `POST /api/search/product`: the criteria subset ragsync sends (equals, equalsAny, multi on id,
 *   productNumber, name, active, stock and customFields.*; includes; limit ≤ 500; page;
 *   total-count-mode), plain JSON with `Accept: application/json`, JSON:API otherwise;
 * - `GET /api/_info/version`.
 *
 * What Shopware would accept but ragsync should never send (an unknown criteria key, an
 * `indexing-behavior` Shopware does not know) goes to `violations`; tests assert it stays empty.
 * The server knows a subset of the product's fields: a real field outside it is refused as unknown.
 */
export const DEFAULT_CURRENCY_ID = 'b7d2554b0ce847cd82f3ac9bd1c0dfca';
const HEX32 = /^[0-9a-f]{32}$/;
const PRODUCT_FIELDS = new Set(['id', 'productNumber', 'name', 'description', 'active', 'stock', 'taxId', 'price', 'visibilities', 'customFields']);
const REQUIRED_ON_CREATE = ['name', 'productNumber', 'taxId', 'price', 'stock'];
const PRICE_FIELDS = new Set(['currencyId', 'gross', 'net', 'linked', 'listPrice', 'regulationPrice']);
const FILTER_FIELDS = new Set(['id', 'productNumber', 'name', 'active', 'stock', 'taxId']);
const CRITERIA_KEYS = new Set(['filter', 'includes', 'limit', 'page', 'total-count-mode', 'sort']);

export interface StoredProduct {
  id: string;
  productNumber: string;
  name: string;
  description: string | null;
  active: boolean;
  stock: number;
  taxId: string;
  price: Record<string, unknown>[];
  visibilities: { id: string; salesChannelId: string; visibility: number }[];
  customFields: Record<string, unknown> | null;
}

export interface ShopwareError {
  code: string;
  status: string;
  title?: string;
  detail: string | null;
  source?: { pointer: string };
  meta?: { parameters: Record<string, unknown> };
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The `indexing-behavior` header, when sent. */
  indexingBehavior?: string;
  body: unknown;
  status: number;
  at: number;
  /** When the request's headers arrived (`at` is when its body was read). */
  receivedAt?: number;
  /** When the answer was sent (later than `at` under latency); unset while none was. */
  answeredAt?: number;
  /** The answer's Retry-After, when it had one. */
  retryAfterSeconds?: number;
}

/** 5xx/429 answered instead of the work, after auth; to `paths` only when set. */
export interface ShopwareFault {
  status: 500 | 502 | 503 | 429;
  retryAfterSeconds?: number;
  /** Share of matching calls that get it. @defaultValue 1 */
  probability?: number;
  /** At most this many calls get it. @defaultValue unlimited */
  times?: number;
  paths?: string[];
}

/**
 * Calls held this long before they are handled (a slow shop). A call whose client has gone by then
 * is not handled at all (its recorded status stays 0). The token endpoint is not delayed unless
 * named in `paths`.
 */
export interface ShopwareLatency {
  ms: number;
  /** At most this many calls are delayed. @defaultValue unlimited */
  times?: number;
  paths?: string[];
}

export interface ShopwareServerOptions {
  clientId?: string;
  clientSecret?: string;
  /** Token lifetime in seconds. @defaultValue 600 */
  expiresIn?: number;
  /** `[limit, seconds]` tiers of the token endpoint. @defaultValue [[10,10],[15,30],[20,60]] */
  throttle?: [number, number][];
  /** A successful token call clears the count (Shopware does). @defaultValue true */
  resetThrottleOnSuccess?: boolean;
  /** Tax ids that exist. @defaultValue any 32-hex id */
  taxIds?: string[];
}

export interface ShopwareTestServer {
  url: string;
  clientId: string;
  clientSecret: string;
  requests: RecordedRequest[];
  violations: string[];
  /** Token calls answered with a token. */
  tokensIssued: number;
  /** Every access token issued so far (for tests that look for leaks). */
  issuedTokens(): string[];
  products(): StoredProduct[];
  product(id: string): StoredProduct | undefined;
  productByNumber(productNumber: string): StoredProduct | undefined;
  /** A product made by hand in the admin (or by another tool): checked like a create. */
  addProduct(product: Record<string, unknown>): StoredProduct;
  /** Writes of this productNumber are refused with a 400 pointing at `field` (a validation error of the shop). */
  rejectProductNumber(productNumber: string, field: string, detail: string): void;
  /** Writes of this productNumber are refused with a 400 that has no pointer (a database error). */
  rejectWithoutPointer(productNumber: string, detail: string): void;
  setFault(fault: ShopwareFault | undefined): void;
  setLatency(latency: ShopwareLatency | undefined): void;
  /** Offline: every connection is cut without an answer. */
  setOffline(offline: boolean): void;
  /** Every issued token stops being valid (an early expiry, a key rotation). */
  revokeTokens(): void;
  setExpiresIn(seconds: number): void;
  close(): Promise<void>;
}

class WriteErrors {
  readonly list: ShopwareError[] = [];
  add(code: string, detail: string, pointer: string, parameters: Record<string, unknown> = {}): void {
    this.list.push({ code, status: '400', detail, template: detail, meta: { parameters }, source: { pointer } } as ShopwareError);
  }
  blank(pointer: string): void {
    this.add('c1051bb4-d103-4f74-8988-acbcafc7fdc3', 'This value should not be blank.', pointer);
  }
  type(pointer: string, type: string): void {
    this.add('ba785a8c-82cb-4283-967c-3cf342181b40', `This value should be of type ${type}.`, pointer, { '{{ type }}': type });
  }
  unexpected(pointer: string, field: string): void {
    this.add('FRAMEWORK__WRITE_UNEXPECTED_FIELD_ERROR', `Unexpected field: ${field}`, pointer, { field });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startShopwareServer(options: ShopwareServerOptions = {}): Promise<ShopwareTestServer> {
  const clientId = options.clientId ?? `SWIA${randomBytes(12).toString('hex').toUpperCase()}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  let expiresIn = options.expiresIn ?? 600;
  const tiers = options.throttle ?? [[10, 10], [15, 30], [20, 60]];
  const tokens = new Map<string, number>();
  const issued: string[] = [];
  let attempts: number[] = [];
  let products = new Map<string, StoredProduct>();
  const rejected = new Map<string, { field?: string; detail: string }>();
  let fault: ShopwareFault | undefined;
  let faultCount = 0;
  let latency: ShopwareLatency | undefined;
  let latencyCount = 0;
  let offline = false;
  const sockets = new Set<Socket>();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];

  const state = {
    url: '',
    clientId,
    clientSecret,
    requests,
    violations,
    tokensIssued: 0,
    issuedTokens: () => [...issued],
    products: () => [...products.values()].map((p) => structuredClone(p)),
    product: (id: string) => structuredClone(products.get(id)),
    productByNumber: (n: string) => structuredClone([...products.values()].find((p) => p.productNumber === n)),
    addProduct(product: Record<string, unknown>) {
      const errors = new WriteErrors();
      const working = new Map(products);
      upsert(working, product, '/0', errors);
      if (errors.list.length > 0) throw new Error(`addProduct: ${errors.list.map((e) => `${e.source?.pointer} ${e.detail}`).join('; ')}`);
      products = working;
      return structuredClone([...working.values()].find((p) => p.productNumber === product.productNumber)!);
    },
    rejectProductNumber: (n: string, field: string, detail: string) => void rejected.set(n, { field, detail }),
    rejectWithoutPointer: (n: string, detail: string) => void rejected.set(n, { detail }),
    setFault(f: ShopwareFault | undefined) {
      fault = f;
      faultCount = 0;
    },
    setLatency(l: ShopwareLatency | undefined) {
      latency = l;
      latencyCount = 0;
    },
    setOffline: (value: boolean) => void (offline = value),
    revokeTokens: () => tokens.clear(),
    setExpiresIn: (seconds: number) => void (expiresIn = seconds),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  } satisfies ShopwareTestServer;

  function upsert(working: Map<string, StoredProduct>, item: unknown, at: string, errors: WriteErrors): void {
    if (!isObject(item)) return errors.add('FRAMEWORK__WRITE_TYPE_INTEND_ERROR', 'Expected data to be array.', at);
    let id: string | null | undefined;
    const rawId = item.id;
    if (isObject(rawId)) {
      if (rawId.resolver !== 'product.number' || typeof rawId.value !== 'string') return errors.add('FRAMEWORK__INVALID_UUID', 'Invalid resolver', `${at}/id`);
      id = [...working.values()].find((p) => p.productNumber === rawId.value)?.id ?? null;
      if (id === null && rawId.nullOnMissing !== true) return errors.add('FRAMEWORK__SYNC_RESOLVER_NOT_FOUND', `No product with number ${rawId.value}`, `${at}/id`);
    } else if (rawId !== undefined) {
      if (typeof rawId !== 'string' || !HEX32.test(rawId)) return errors.add('FRAMEWORK__INVALID_UUID', `Value is not a valid UUID: ${String(rawId)}`, `${at}/id`);
      id = rawId;
    }
    const existing = id ? working.get(id) : undefined;
    const before = errors.list.length;
    for (const [field, value] of Object.entries(item)) {
      const p = `${at}/${field}`;
      if (!PRODUCT_FIELDS.has(field)) errors.unexpected(p, field);
      else if ((field === 'name' || field === 'productNumber') && value !== undefined) {
        if (typeof value !== 'string') errors.type(p, 'string');
        else if (value.trim() === '') errors.blank(p);
      } else if (field === 'description' && value !== null && typeof value !== 'string') errors.type(p, 'string');
      else if (field === 'active' && typeof value !== 'boolean') errors.type(p, 'bool');
      else if (field === 'stock' && !Number.isInteger(value)) errors.type(p, 'int');
      else if (field === 'taxId') {
        if (typeof value !== 'string' || !HEX32.test(value)) errors.add('FRAMEWORK__INVALID_UUID', `Value is not a valid UUID: ${String(value)}`, p);
        else if (options.taxIds && !options.taxIds.includes(value)) errors.add('FRAMEWORK__WRITE_FOREIGN_KEY', `The tax with id ${value} does not exist.`, p);
      } else if (field === 'price') checkPrice(value, p, errors);
      else if (field === 'visibilities') checkVisibilities(value, p, errors);
      else if (field === 'customFields' && value !== null && !isObject(value)) errors.type(p, 'array');
    }
    if (!existing) for (const field of REQUIRED_ON_CREATE) if (item[field] === undefined || item[field] === null) errors.blank(`${at}/${field}`);
    const number = (item.productNumber as string | undefined) ?? existing?.productNumber;
    const refusal = number === undefined ? undefined : rejected.get(number);
    if (refusal?.field !== undefined) errors.add('c1051bb4-d103-4f74-8988-acbcafc7fdc3', refusal.detail, `${at}/${refusal.field}`);
    if (errors.list.length > before) return;

    const productId = id ?? randomUUID().replaceAll('-', '');
    const next: StoredProduct = existing
      ? structuredClone(existing)
      : { id: productId, productNumber: '', name: '', description: null, active: true, stock: 0, taxId: '', price: [], visibilities: [], customFields: null };
    for (const [field, value] of Object.entries(item)) {
      if (field === 'id') continue;
      if (field === 'customFields') next.customFields = value === null ? null : { ...(next.customFields ?? {}), ...(value as object) };
      else if (field === 'visibilities') {
        for (const v of value as { id?: string; salesChannelId: string; visibility: number }[]) {
          const vid = v.id ?? randomUUID().replaceAll('-', '');
          next.visibilities = [...next.visibilities.filter((o) => o.id !== vid), { id: vid, salesChannelId: v.salesChannelId, visibility: v.visibility }];
        }
      } else (next as unknown as Record<string, unknown>)[field] = structuredClone(value);
    }
    working.set(productId, next);
  }

  function checkPrice(value: unknown, p: string, errors: WriteErrors): void {
    if (!Array.isArray(value) || value.length === 0) return errors.type(p, 'array');
    value.forEach((entry, j) => {
      const q = `${p}/${j}`;
      if (!isObject(entry)) return errors.type(q, 'array');
      for (const key of Object.keys(entry)) if (!PRICE_FIELDS.has(key)) errors.unexpected(`${q}/${key}`, key);
      if (typeof entry.currencyId !== 'string' || !HEX32.test(entry.currencyId)) errors.add('FRAMEWORK__INVALID_UUID', 'currencyId is not a valid UUID', `${q}/currencyId`);
      for (const key of ['gross', 'net']) if (typeof entry[key] !== 'number' || !Number.isFinite(entry[key])) errors.type(`${q}/${key}`, 'numeric');
      if (typeof entry.linked !== 'boolean') errors.type(`${q}/linked`, 'bool');
    });
    if (!value.some((entry) => isObject(entry) && entry.currencyId === DEFAULT_CURRENCY_ID)) {
      errors.add('FRAMEWORK__WRITE_CONSTRAINT_VIOLATION', 'No price for default currency defined', p);
    }
  }

  function checkVisibilities(value: unknown, p: string, errors: WriteErrors): void {
    if (!Array.isArray(value)) return errors.type(p, 'array');
    value.forEach((v, j) => {
      const q = `${p}/${j}`;
      if (!isObject(v)) return errors.type(q, 'array');
      for (const key of Object.keys(v)) if (!['id', 'salesChannelId', 'visibility'].includes(key)) errors.unexpected(`${q}/${key}`, key);
      if (v.id !== undefined && (typeof v.id !== 'string' || !HEX32.test(v.id))) errors.add('FRAMEWORK__INVALID_UUID', 'id is not a valid UUID', `${q}/id`);
      if (typeof v.salesChannelId !== 'string' || !HEX32.test(v.salesChannelId)) errors.blank(`${q}/salesChannelId`);
      if (![10, 20, 30].includes(v.visibility as number)) errors.type(`${q}/visibility`, 'int');
    });
  }

  function sync(body: unknown, send: (status: number, body: unknown) => void): void {
    if (!isObject(body) && !Array.isArray(body)) return send(400, { errors: [error('FRAMEWORK__INVALID_SYNC_OPERATION', 'Sync payload must be an object of operations')] });
    const working = new Map(products);
    const errors = new WriteErrors();
    const written: string[] = [];
    const deleted: string[] = [];
    for (const [name, operation] of Object.entries(body)) {
      if (!isObject(operation)) return send(400, { errors: [error('FRAMEWORK__INVALID_SYNC_OPERATION', `Operation "${name}" is not an object`)] });
      for (const key of Object.keys(operation)) if (!['entity', 'action', 'payload', 'criteria'].includes(key)) violations.push(`sync operation "${name}" has an unknown key "${key}"`);
      if (typeof operation.entity !== 'string') return send(400, { errors: [error('FRAMEWORK__INVALID_SYNC_OPERATION', `Missing "entity" in operation "${name}"`)] });
      if (operation.action !== 'upsert' && operation.action !== 'delete') return send(400, { errors: [error('FRAMEWORK__INVALID_SYNC_OPERATION', `Invalid action "${String(operation.action)}" in operation "${name}"`)] });
      if (operation.entity !== 'product') {
        violations.push(`sync operation "${name}" writes ${operation.entity}, which this server does not implement`);
        return send(400, { errors: [error('FRAMEWORK__DEFINITION_NOT_FOUND', `Definition for entity "${operation.entity}" does not exist.`)] });
      }
      if (!Array.isArray(operation.payload)) return send(400, { errors: [error('FRAMEWORK__INVALID_SYNC_OPERATION', `Missing "payload" in operation "${name}"`)] });
      operation.payload.forEach((item: unknown, i: number) => {
        const at = `/${name}/${i}`;
        if (operation.action === 'upsert') {
          const count = errors.list.length;
          upsert(working, item, at, errors);
          if (errors.list.length === count && isObject(item) && typeof item.id === 'string') written.push(item.id);
          return;
        }
        if (!isObject(item) || typeof item.id !== 'string' || !HEX32.test(item.id)) return errors.add('FRAMEWORK__INVALID_UUID', 'Value is not a valid UUID', `${at}/id`);
        for (const key of Object.keys(item)) if (key !== 'id') errors.unexpected(`${at}/${key}`, key);
        if (working.delete(item.id)) deleted.push(item.id);
      });
    }
    if (errors.list.length > 0) return send(400, { errors: errors.list });
    const numbers = new Map<string, string>();
    for (const product of working.values()) {
      const refusal = rejected.get(product.productNumber);
      if (refusal && refusal.field === undefined && written.includes(product.id)) return send(400, { errors: [error('FRAMEWORK__WRITE_CONSTRAINT_VIOLATION', refusal.detail)] });
      if (numbers.has(product.productNumber)) {
        return send(400, { errors: [error('CONTENT__DUPLICATE_PRODUCT_NUMBER', `Product with number "${product.productNumber}" already exists.`, { number: product.productNumber })] });
      }
      numbers.set(product.productNumber, product.id);
      const channels = product.visibilities.map((v) => v.salesChannelId);
      if (new Set(channels).size !== channels.length) return send(400, { errors: [error('FRAMEWORK__WRITE_CONSTRAINT_VIOLATION', `Duplicate visibility for product ${product.id}`)] });
    }
    products = working;
    send(200, { data: { product: written }, notFound: [], deleted: deleted.length > 0 ? { product: deleted } : [] });
  }

  function matches(product: StoredProduct, filter: unknown, at: string): boolean {
    if (!isObject(filter)) throw criteriaError('FRAMEWORK__INVALID_FILTER_QUERY', 'A filter must be an object', at);
    if (filter.type === 'multi') {
      if (!Array.isArray(filter.queries)) throw criteriaError('FRAMEWORK__INVALID_FILTER_QUERY', 'multi needs queries', at);
      const results = filter.queries.map((q: unknown, i: number) => matches(product, q, `${at}/queries/${i}`));
      return String(filter.operator ?? 'and').toLowerCase() === 'or' ? results.some(Boolean) : results.every(Boolean);
    }
    if (filter.type !== 'equals' && filter.type !== 'equalsAny') throw criteriaError('FRAMEWORK__INVALID_FILTER_QUERY', `Unsupported filter type: ${String(filter.type)}`, at);
    const field = String(filter.field ?? '').replace(/^product\./, '');
    let actual: unknown;
    if (field.startsWith('customFields.')) actual = product.customFields?.[field.slice('customFields.'.length)];
    else if (FILTER_FIELDS.has(field)) actual = (product as unknown as Record<string, unknown>)[field];
    else throw criteriaError('FRAMEWORK__INVALID_FILTER_QUERY', `Field "${field}" in entity "product" was not found.`, `${at}/field`);
    if (filter.type === 'equals') return actual === filter.value || (actual === undefined && filter.value === null);
    const values = typeof filter.value === 'string' ? filter.value.split('|') : filter.value;
    if (!Array.isArray(values)) throw criteriaError('FRAMEWORK__INVALID_FILTER_QUERY', 'equalsAny needs a value list', `${at}/value`);
    return values.some((v) => v === actual || (typeof actual === 'number' && String(actual) === v));
  }

  function search(criteria: unknown, json: boolean, send: (status: number, body: unknown) => void): void {
    if (!isObject(criteria)) return send(400, { errors: [error('FRAMEWORK__INVALID_CRITERIA', 'Criteria must be an object')] });
    for (const key of Object.keys(criteria)) if (!CRITERIA_KEYS.has(key)) violations.push(`search criteria has an unknown key "${key}"`);
    const limit = criteria.limit ?? 500;
    if (!Number.isInteger(limit) || (limit as number) < 1) return send(400, { errors: [error('FRAMEWORK__INVALID_LIMIT_QUERY', 'The limit parameter must be a positive integer greater or equals than 1.', {}, '/limit')] });
    if ((limit as number) > 500) return send(400, { errors: [error('FRAMEWORK__INVALID_LIMIT_QUERY', 'The limit must be lower than or equal to MAX_LIMIT(=500).', {}, '/limit')] });
    const page = criteria.page ?? 1;
    if (!Number.isInteger(page) || (page as number) < 1) return send(400, { errors: [error('FRAMEWORK__INVALID_PAGE_QUERY', 'The page parameter must be a positive integer.', {}, '/page')] });
    const mode = Number(criteria['total-count-mode'] ?? 0);
    if (![0, 1, 2].includes(mode)) return send(400, { errors: [error('FRAMEWORK__INVALID_CRITERIA', 'Invalid total-count-mode', {}, '/total-count-mode')] });
    const filters = criteria.filter ?? [];
    if (!Array.isArray(filters)) return send(400, { errors: [error('FRAMEWORK__INVALID_FILTER_QUERY', 'filter must be an array', {}, '/filter')] });
    let hits: StoredProduct[];
    try {
      hits = [...products.values()].filter((p) => filters.every((f, i) => matches(p, f, `/filter/${i}`)));
    } catch (e) {
      if (e instanceof CriteriaError) return send(400, { errors: [e.entry] });
      throw e;
    }
    const start = ((page as number) - 1) * (limit as number);
    const pageHits = hits.slice(start, start + (limit as number));
    const includes = isObject(criteria.includes) && Array.isArray(criteria.includes.product) ? (criteria.includes.product as string[]) : undefined;
    const shown = pageHits.map((p) => {
      const all = { ...structuredClone(p), apiAlias: 'product' } as Record<string, unknown>;
      return includes ? Object.fromEntries(Object.entries(all).filter(([k]) => includes.includes(k) || k === 'apiAlias')) : all;
    });
    const total = mode === 1 ? hits.length : mode === 2 ? Math.min(hits.length, start + (limit as number) + 1) : pageHits.length;
    if (json) return send(200, { total, data: shown, aggregations: [] });
    send(200, { data: shown.map(({ id, ...attributes }) => ({ id, type: 'product', attributes })), meta: { total } });
  }

  function tokenCall(body: unknown, send: (status: number, body: unknown) => void): void {
    const now = Date.now();
    attempts = attempts.filter((t) => t > now - 60_000 * 10);
    for (const [limit, seconds] of tiers) {
      const recent = attempts.filter((t) => t > now - seconds * 1000);
      if (recent.length >= limit) {
        const wait = Math.max(1, Math.ceil((recent[0]! + seconds * 1000 - now) / 1000));
        return send(429, {
          errors: [{ status: '429', code: 'FRAMEWORK__AUTH_THROTTLED', title: 'Too Many Requests', detail: `Auth throttled for ${wait} seconds.`, meta: { parameters: { seconds: wait } } }],
        });
      }
    }
    attempts.push(now);
    const form = isObject(body) ? body : {};
    if (form.grant_type !== 'client_credentials') {
      return send(400, { errors: [{ code: '2', status: '400', title: 'The authorization grant type is not supported by the authorization server.', detail: null }] });
    }
    if (form.client_id !== clientId || form.client_secret !== clientSecret) {
      return send(401, { errors: [{ code: '4', status: '401', title: 'Client authentication failed', detail: null }] });
    }
    if (options.resetThrottleOnSuccess ?? true) attempts = [];
    const token = randomBytes(32).toString('hex');
    tokens.set(token, now + expiresIn * 1000);
    issued.push(token);
    state.tokensIssued += 1;
    send(200, { token_type: 'Bearer', expires_in: expiresIn, access_token: token });
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (offline) return void request.socket.destroy();
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      const text = Buffer.concat(chunks).toString('utf8');
      const type = String(request.headers['content-type'] ?? '');
      let body: unknown = undefined;
      if (text !== '') {
        if (type.includes('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(text));
        else {
          try {
            body = JSON.parse(text);
          } catch {
            body = Symbol.for('invalid');
          }
        }
      }
      const entry: RecordedRequest = { method: request.method ?? '', path, body, status: 0, at: Date.now(), receivedAt };
      const indexing = request.headers['indexing-behavior'];
      if (typeof indexing === 'string') {
        entry.indexingBehavior = indexing;
        if (!['use-queue-indexing', 'disable-indexing'].includes(indexing)) violations.push(`unknown indexing-behavior "${indexing}"`);
      }
      requests.push(entry);
      const slow = latency && (latency.paths ? latency.paths.includes(path) : path !== '/api/oauth/token') && (latency.times === undefined || latencyCount < latency.times);
      if (slow && latency) {
        latencyCount += 1;
        setTimeout(() => {
          if (!request.socket.destroyed) handle(entry, path, body, type);
        }, latency.ms);
        return;
      }
      handle(entry, path, body, type);
    });

    function handle(entry: RecordedRequest, path: string, body: unknown, type: string): void {
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        entry.status = status;
        entry.answeredAt = Date.now();
        const retryAfter = Object.entries(headers).find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
        if (retryAfter !== undefined) entry.retryAfterSeconds = Number(retryAfter);
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(payload));
      };
      if (body === Symbol.for('invalid')) return send(400, { errors: [error('FRAMEWORK__INVALID_JSON', 'The JSON payload is malformed.')] });
      if (request.method === 'POST' && path === '/api/oauth/token') return tokenCall(body, send);

      const auth = String(request.headers.authorization ?? '');
      const token = /^Bearer (\S+)$/.exec(auth)?.[1];
      const expiresAt = token === undefined ? undefined : tokens.get(token);
      if (expiresAt === undefined || expiresAt <= Date.now()) {
        return send(401, { errors: [{ code: '9', status: '401', title: 'The resource owner or authorization server denied the request.', detail: 'Access token could not be verified' }] });
      }
      if (fault && (!fault.paths || fault.paths.includes(path)) && (fault.times === undefined || faultCount < fault.times) && Math.random() < (fault.probability ?? 1)) {
        faultCount += 1;
        const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
        return send(fault.status, { errors: [error(fault.status === 429 ? 'FRAMEWORK__TOO_MANY_REQUESTS' : 'FRAMEWORK__SERVICE_UNAVAILABLE', 'The service is temporarily unavailable.', {}, undefined, fault.status)] }, headers);
      }
      if (request.method === 'GET' && path === '/api/_info/version') return send(200, { version: '6.6.7.0' });
      if (request.method === 'POST' && (path === '/api/_action/sync' || path === '/api/search/product') && !type.includes('application/json')) {
        violations.push(`${path} without a JSON content-type`);
        return send(400, { errors: [error('FRAMEWORK__INVALID_REQUEST', 'Expected a JSON body.')] });
      }
      if (request.method === 'POST' && path === '/api/_action/sync') return sync(body, send);
      if (request.method === 'POST' && path === '/api/search/product') return search(body ?? {}, String(request.headers.accept ?? '').includes('application/json'), send);
      violations.push(`${request.method} ${path} is not implemented`);
      send(404, { errors: [error('FRAMEWORK__ROUTE_NOT_FOUND', `No route found for "${request.method} ${path}"`, {}, undefined, 404)] });
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function error(code: string, detail: string, parameters: Record<string, unknown> = {}, pointer?: string, status = 400): ShopwareError {
  return { code, status: String(status), title: status === 400 ? 'Bad Request' : 'Error', detail, meta: { parameters }, ...(pointer ? { source: { pointer } } : {}) };
}

class CriteriaError extends Error {
  constructor(readonly entry: ShopwareError) {
    super(entry.detail ?? '');
  }
}

function criteriaError(code: string, detail: string, pointer: string): CriteriaError {
  return new CriteriaError(error(code, detail, {}, pointer));
}
