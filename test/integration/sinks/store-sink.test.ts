import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createStoreSink, storeTarget } from '../../../src/consumers/store/store-sink.js';
import { RedisCircuitBreaker } from '../../../src/coordination/circuit-breaker.js';
import { RedisRateLimiter } from '../../../src/coordination/rate-limiter.js';
import { composeSink } from '../../../src/sinks/compose.js';
import { createLanceDbStore } from '../../../src/stores/lancedb/index.js';
import { createQdrantStore } from '../../../src/stores/qdrant/index.js';
import type { VectorStore } from '../../../src/stores/vector-store.js';
import { startQdrantServer, type QdrantTestServer } from '../../support/qdrant-server/server.js';
import { uniqueName } from '../../support/unique.js';
import { SPEC } from '../stores/conformance.js';
import { runSinkConformance, type SinkHarness, type SinkLocation } from './conformance.js';
import { readDocument, refusedRecord, removeRecord, saveRecord } from './store-records.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';
let server: QdrantTestServer;
const redis = new Redis(redisUrl);

beforeAll(async () => {
  server = await startQdrantServer();
});

afterAll(async () => {
  await server.close();
  redis.disconnect();
});

afterEach(() => {
  // Every request a sink sent must be one real Qdrant accepts.
  expect(server.violations.splice(0)).toEqual([]);
  server.requests.splice(0);
});

const records = { save: saveRecord, remove: removeRecord, refused: refusedRecord };

/** A location whose stores are opened by `open`; reads go through a store instance of their own. */
function storeLocation(open: () => VectorStore, target: string, cleanup: () => Promise<void>, wrap: (sink: ReturnType<typeof createStoreSink>) => ReturnType<typeof createStoreSink> = (s) => s): SinkLocation {
  const readers: VectorStore[] = [];
  return {
    open: () => wrap(createStoreSink(open(), { target, collection: SPEC })),
    async read(key) {
      const reader = open();
      readers.push(reader);
      await reader.connect();
      return readDocument(reader, key);
    },
    async cleanup() {
      for (const reader of readers.splice(0)) await reader.close();
      await cleanup();
    },
  };
}

function qdrantLocation(wrap?: (sink: ReturnType<typeof createStoreSink>) => ReturnType<typeof createStoreSink>): SinkLocation {
  const collection = `t_${randomBytes(5).toString('hex')}`;
  return storeLocation(
    () => createQdrantStore({ url: server.url, collection }),
    storeTarget({ qdrantUrl: server.url, collection }),
    async () => {
      await server.engine.drop(collection);
      await server.engine.drop(`${collection}_heads`);
    },
    wrap,
  );
}

runSinkConformance({
  name: 'store (LanceDB)',
  ...records,
  async setup() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-sink-'));
    return storeLocation(() => createLanceDbStore({ path: dir, collection: 'chunks' }), storeTarget({ collection: 'chunks' }), () => rm(dir, { recursive: true, force: true }));
  },
} satisfies SinkHarness);

runSinkConformance({
  name: 'store (Qdrant)',
  ...records,
  setup: async () => qdrantLocation(),
});

runSinkConformance({
  name: 'store (Qdrant) behind breaker, rate limit and record isolation',
  ...records,
  async setup() {
    const keyPrefix = `${uniqueName('sink')}:`;
    const breaker = new RedisCircuitBreaker(redis, { keyPrefix });
    const limiter = new RedisRateLimiter(redis, { keyPrefix, defaultLimit: { ratePerSecond: 1000, burst: 100 } });
    const location = qdrantLocation((sink) => composeSink(sink, { breaker, limiter }));
    return {
      ...location,
      async cleanup() {
        await location.cleanup();
        const keys = await redis.keys(`${keyPrefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      },
    };
  },
});
