import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError, SystemError } from '../../../src/core/errors.js';
import { createQdrantStore } from '../../../src/stores/qdrant/index.js';
import { pointsPerRequest } from '../../../src/stores/qdrant/qdrant-backend.js';
import type { VectorStore } from '../../../src/stores/vector-store.js';
import { loadQdrantApiSchema } from '../../support/qdrant-server/api-schema.js';
import { startQdrantServer, type QdrantTestServer } from '../../support/qdrant-server/server.js';
import { createValidators } from '../../support/qdrant-server/validator.js';
import { runVectorStoreConformance, SPEC, type StoreHarness } from './conformance.js';
import { runHybridSearchConformance } from './hybrid-conformance.js';
import { makeVectorSet } from '../../support/vector-sets.js';

const API_KEY = 'test-key-7d1f';
let server: QdrantTestServer;

beforeAll(async () => {
  server = await startQdrantServer({ apiKey: API_KEY });
});

afterAll(async () => {
  await server.close();
});

const WRITES = new Set(['upsert_points', 'batch_update', 'delete_points', 'set_payload', 'overwrite_payload', 'delete_payload', 'clear_payload', 'update_vectors', 'delete_vectors', 'create_field_index']);

afterEach(() => {
  // Durability: a write resolves only once Qdrant has applied it.
  const unwaited = server.requests.splice(0).filter((request) => WRITES.has(request.operationId) && request.query.wait !== 'true');
  expect(unwaited).toEqual([]);
  // Every request the store sent must be one real Qdrant accepts, and every answer one it gives.
  const violations = server.violations.splice(0);
  expect(violations).toEqual([]);
});

const uniqueCollection = () => `t_${randomBytes(5).toString('hex')}`;
const storeOn = (collection: string, apiKey = API_KEY): VectorStore => createQdrantStore({ url: server.url, apiKey, collection });

const harness: StoreHarness = {
  name: 'Qdrant',
  async setup() {
    const collection = uniqueCollection();
    return {
      open: () => storeOn(collection),
      cleanup: async () => {
        await server.engine.drop(collection);
        await server.engine.drop(`${collection}_heads`);
      },
    };
  },
};

runVectorStoreConformance(harness);
runHybridSearchConformance(harness);

describe('the Qdrant store against its server', () => {
  it('creates the payload indexes with tenant as the tenant key', async () => {
    const collection = uniqueCollection();
    const store = storeOn(collection);
    await store.connect();
    await store.ensureCollection(SPEC);
    // As the engine reports them: an index created with parameters keeps them, a plain one has none.
    const { payload_schema: indexes } = await server.engine.info(collection);
    expect(indexes).toEqual({
      tenant: { data_type: 'keyword', params: { type: 'keyword', is_tenant: true }, points: 0 },
      doc_key: { data_type: 'keyword', points: 0 },
      entity_type: { data_type: 'keyword', points: 0 },
      doc_type: { data_type: 'keyword', points: 0 },
      store_id: { data_type: 'integer', points: 0 },
      categories: { data_type: 'keyword', points: 0 },
      price: { data_type: 'float', points: 0 },
      stock_status: { data_type: 'keyword', points: 0 },
    });
    expect(server.engine.collection(`${collection}_heads`).params.vectors).toEqual({});
    expect((await server.engine.info(`${collection}_heads`)).payload_schema).toEqual({ live: { data_type: 'bool', points: 0 } });
  });

  it('creates the points collection with a BM25 sparse vector whose IDF Qdrant applies', async () => {
    const collection = uniqueCollection();
    const store = storeOn(collection);
    await store.connect();
    await store.ensureCollection(SPEC);
    expect(server.engine.collection(collection).params.sparse_vectors).toEqual({ bm25: { modifier: 'idf' } });
    await store.applyVectorSet(makeVectorSet({ entityId: 'lamp', version: 1n, dimension: 8 }));
    // The text goes to Qdrant, which computes the sparse vector with its own BM25 model.
    const upsert = server.requests.find((request) => request.operationId === 'batch_update')!.body as { operations: Array<{ upsert?: { points: Array<{ vector: Record<string, unknown> }> } }> };
    expect(upsert.operations[0]!.upsert!.points[0]!.vector.bm25).toEqual({ text: 'Item lamp v1\nItem lamp v1, part 1: sturdy walnut shelving for small rooms.', model: 'qdrant/bm25' });
  });

  describe('when the collection was created before lexical search', () => {
    it('writes and searches it by vectors, and refuses a lexical or hybrid search by name', async () => {
      const collection = uniqueCollection();
      const created = await fetch(`${server.url}/collections/${collection}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'api-key': API_KEY },
        body: JSON.stringify({ vectors: { size: SPEC.dimension, distance: 'Cosine' }, metadata: { ragsync_model_id: SPEC.modelId } }),
      });
      expect(created.status).toBe(200);
      const store = storeOn(collection);
      await store.connect();
      await store.ensureCollection(SPEC);
      expect(await store.applyVectorSet(makeVectorSet({ entityId: 'lamp', version: 1n, dimension: 8 }))).toEqual({ applied: true });
      const vector = Array.from({ length: SPEC.dimension }, (_, i) => (i === 0 ? 1 : 0));
      expect(await store.search({ mode: 'dense', vector, limit: 5 })).toHaveLength(2);
      await expect(store.search({ mode: 'hybrid', text: 'lamp', vector, limit: 5 })).rejects.toMatchObject({ code: 'store_lexical_missing', errorClass: 'system' });
      // A search-only process learns it from the collection.
      const reader = storeOn(collection);
      await reader.connect();
      await expect(reader.search({ mode: 'lexical', text: 'lamp', limit: 5 })).rejects.toMatchObject({ code: 'store_lexical_missing' });
      await server.engine.drop(collection);
      await server.engine.drop(`${collection}_heads`);
    });
  });

  describe('when a batch has more points than one request should carry', () => {
    it('sends the new points first in requests of pointsPerRequest, removes superseded points last, and stores every point', async () => {
      const dimension = 4096;
      expect(pointsPerRequest(dimension)).toBe(51);
      expect(pointsPerRequest(384)).toBe(546);
      expect(pointsPerRequest(8)).toBe(1000);
      const collection = uniqueCollection();
      const store = storeOn(collection);
      await store.connect();
      await store.ensureCollection({ ...SPEC, dimension });
      expect(await store.applyVectorSet(makeVectorSet({ entityId: 'big', version: 1n, chunks: 70, dimension }))).toEqual({ applied: true });
      const from = server.requests.length;
      // Version 2 of `big` has fewer chunks (its last 10 are superseded), and `other` comes in the same batch.
      const results = await store.applyBatch([
        { kind: 'vectors', set: makeVectorSet({ entityId: 'big', version: 2n, chunks: 60, dimension }) },
        { kind: 'vectors', set: makeVectorSet({ entityId: 'other', version: 1n, chunks: 50, dimension }) },
      ]);
      expect(results).toEqual([{ applied: true }, { applied: true }]);
      const updates = server.requests
        .slice(from)
        .filter((r) => r.operationId === 'batch_update' && Object.values(r.path).includes(collection))
        .map((r) => (r.body as { operations: Array<Record<string, { points?: unknown[] }>> }).operations.map((op) => Object.entries(op).map(([kind, o]) => (kind === 'upsert' ? `upsert ${o.points!.length}` : kind))[0]));
      expect(updates).toEqual([['upsert 51'], ['upsert 51'], ['upsert 8', 'delete']]);
      expect((await server.engine.info(collection)).points_count).toBe(110);
      await server.engine.drop(collection);
      await server.engine.drop(`${collection}_heads`);
    });
  });

  describe('when the API key is wrong', () => {
    it('fails to connect with a system error that does not reveal the key', async () => {
      const store = storeOn(uniqueCollection(), 'wrong-key-secret');
      const error = await store.connect().then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).code).toBe('qdrant_unauthorized');
      expect((error as Error).message).not.toContain('wrong-key-secret');
    });
  });

  describe('when the collection does not exist', () => {
    it('fails a write with a system error', async () => {
      const store = storeOn(uniqueCollection());
      await store.connect();
      await expect(store.applyVectorSet(makeVectorSet({ entityId: 'x', version: 1n, dimension: 8 }))).rejects.toMatchObject({
        code: 'qdrant_collection_missing',
        errorClass: 'system',
      });
    });
  });

  describe('when vectors do not fit the collection and the store was not bootstrapped', () => {
    it('turns Qdrant 400 dimension error into a system error', async () => {
      const collection = uniqueCollection();
      const first = storeOn(collection);
      await first.connect();
      await first.ensureCollection(SPEC);
      const second = storeOn(collection);
      await second.connect();
      await expect(second.applyVectorSet(makeVectorSet({ entityId: 'x', version: 1n, dimension: 16 }))).rejects.toMatchObject({
        code: 'store_dimension_mismatch',
        errorClass: 'system',
      });
    });
  });

  describe('when the server cannot be reached', () => {
    it('fails with a retryable error', async () => {
      const stopped = await startQdrantServer();
      await stopped.close();
      const store = createQdrantStore({ url: stopped.url, collection: uniqueCollection() });
      await expect(store.connect()).rejects.toBeInstanceOf(RetryableError);
    });
  });

  describe('when the server is faulty', () => {
    afterEach(() => server.setFault(undefined));

    it.each([
      ['seconds', false],
      ['an HTTP date', true],
    ])('keeps the whole wait it names in %s, not the first digit the client reads', async (_, asDate) => {
      const store = storeOn(uniqueCollection());
      server.setFault({ answer: { status: 429, retryAfterSeconds: 42, asDate } });
      const error = await store.connect().then(() => undefined, (caught: unknown) => caught);
      expect(error).toMatchObject({ errorClass: 'retryable', code: 'qdrant_rate_limited' });
      // An HTTP date has whole seconds: up to a second less.
      expect((error as RetryableError).retryAfterMs).toBeGreaterThan(40_000);
      expect((error as RetryableError).retryAfterMs).toBeLessThanOrEqual(42_000);
    });

    it('answers late when told to, and then does the work', async () => {
      const store = storeOn(uniqueCollection());
      server.setFault({ answer: { delayMs: 300 }, operations: ['collection_exists'], times: 1 });
      const started = Date.now();
      await store.connect();
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(server.requests.filter((r) => r.fault === 'delay')).toHaveLength(1);
    });

    it('keeps a 503 as a retryable server error', async () => {
      const store = storeOn(uniqueCollection());
      server.setFault({ answer: { status: 503 } });
      await expect(store.connect()).rejects.toMatchObject({ errorClass: 'retryable', code: 'qdrant_server_error' });
      expect(server.faultyCalls).toBe(1);
    });
  });

  describe('when a request does not match the published API', () => {
    it('answers 400 and records a violation', async () => {
      const collection = uniqueCollection();
      const response = await fetch(`${server.url}/collections/${collection}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'api-key': API_KEY },
        body: JSON.stringify({ vectors: { size: 4, distance: 'Cosinus' } }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ status: { error: expect.stringContaining('Format error') } });
      expect(server.violations.splice(0)).toEqual([expect.stringContaining('create_collection')]);
    });

    it("checks the server's own answers against the API too", async () => {
      const schema = await loadQdrantApiSchema();
      const validators = createValidators(schema);
      const count = schema.routes.find((route) => route.operationId === 'count_points')!;
      expect(validators.response(count, { result: { count: 3 }, status: 'ok', time: 0 })).toBeUndefined();
      expect(validators.response(count, { result: { total: 3 }, status: 'ok', time: 0 })).toMatch(/count/);
    });

    it('records a route that Qdrant does not have', async () => {
      const response = await fetch(`${server.url}/collections/x/points/upsert`, { method: 'POST', headers: { 'api-key': API_KEY } });
      expect(response.status).toBe(404);
      expect(server.violations.splice(0)).toEqual([expect.stringContaining("not in Qdrant's API")]);
    });
  });

  describe("when a client uses more of Qdrant's API than the store does", () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'api-key': API_KEY },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as { result?: unknown; status: unknown } };
    };
    const bm25 = (text: string) => ({ text, model: 'qdrant/bm25' });

    it("ranks by BM25 and fuses rankings with Qdrant's engine", async () => {
      const collection = uniqueCollection();
      await call('PUT', `/collections/${collection}`, { vectors: { size: 2, distance: 'Dot' }, sparse_vectors: { text: { modifier: 'idf' } } });
      const upsert = await call('PUT', `/collections/${collection}/points?wait=true`, {
        points: [
          { id: 1, vector: { '': [1, 0], text: bm25('oak dining table') }, payload: { name: 'table' } },
          { id: 2, vector: { '': [0.9, 0.1], text: bm25('oak chair') }, payload: { name: 'oak chair' } },
          { id: 3, vector: { '': [0, 1], text: bm25('plastic chair') }, payload: { name: 'plastic chair' } },
        ],
      });
      expect(upsert.status).toBe(200);
      const ids = async (body: unknown) =>
        ((await call('POST', `/collections/${collection}/points/query`, body)).body.result as { points: Array<{ id: number }> }).points.map((point) => point.id);
      // BM25 scores only the documents that share a term with the query.
      expect((await ids({ query: bm25('oak'), using: 'text' })).sort()).toEqual([1, 2]);
      // The one document in both prefetches wins the fusion.
      const fused = await ids({
        prefetch: [
          { query: [1, 0], limit: 2 },
          { query: bm25('chair'), using: 'text', limit: 2 },
        ],
        query: { fusion: 'rrf' },
      });
      expect(fused[0]).toBe(2);
      expect([...fused].sort()).toEqual([1, 2, 3]);
      await server.engine.drop(collection);
    });

    it('answers a query the edge shard cannot run with 400 and records a violation', async () => {
      const collection = uniqueCollection();
      await call('PUT', `/collections/${collection}`, { vectors: { size: 2, distance: 'Cosine' } });
      const response = await call('POST', `/collections/${collection}/points/query`, { query: { recommend: { positive: [[1, 0]] } } });
      expect(response.status).toBe(400);
      expect(server.violations.splice(0)).toEqual([expect.stringContaining('recommend')]);
      await server.engine.drop(collection);
    });
  });
});
