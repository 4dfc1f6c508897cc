import { Redis } from 'ioredis';
import { afterAll, expect } from 'vitest';
import { readVersion } from '../../../src/sinks/shopware/mapping.js';
import { ShopwareSink } from '../../../src/sinks/shopware/index.js';
import { startShopwareServer } from '../../support/shopware-server.js';
import { uniqueName } from '../../support/unique.js';
import { runSinkConformance, type SinkLocation } from '../sinks/conformance.js';
import { save, remove, shopwareTarget } from './shopware-records.js';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
afterAll(() => redis.disconnect());

const REFUSED = 'REFUSED-';

// The shared sink suite, against the loopback shop and the stack's Redis. What the target holds is
// read behind the sink: the shop's product carrying the key, else the delete version the sink
// remembered in Redis (Shopware keeps nothing of a deleted product).
runSinkConformance({
  name: 'Shopware',
  async setup(): Promise<SinkLocation> {
    const server = await startShopwareServer();
    for (const entity of ['lamp', 'chair', 'desk', 'sofa']) {
      server.rejectProductNumber(`${REFUSED}${entity}`, 'name', 'The name contains a word this shop does not allow.');
    }
    const keyPrefix = `${uniqueName('shopware-conf')}:`;
    const deletedHash = `${keyPrefix}shopware:${new URL(server.url).host}:deleted`;
    return {
      open: () => new ShopwareSink(shopwareTarget(server), { redis, keyPrefix }),
      async read(key) {
        const live = server.products().find((p) => p.customFields?.ragsync_key === key);
        if (live) return { version: readVersion(live.customFields?.ragsync_version)!, deleted: false };
        const deleted = await redis.hget(deletedHash, key);
        return deleted === null ? undefined : { version: BigInt(deleted), deleted: true };
      },
      async cleanup() {
        const violations = server.violations.splice(0);
        await server.close();
        const keys = await redis.keys(`${keyPrefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        // Every request the sink sent must be one real Shopware accepts.
        expect(violations).toEqual([]);
      },
    };
  },
  save: (entity, version) => save(entity, version),
  remove: (entity, version) => remove(entity, version),
  // The loopback shop refuses these product numbers with a 400 pointing at the name, as Shopware's
  // write validation refuses a field.
  refused: (entity, version) => save(entity, version, { sku: `${REFUSED}${entity}` }),
});
