import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { WoocommerceSink } from '../../../src/sinks/woocommerce/index.js';
import { startWooServer } from '../../support/woocommerce-server.js';
import { uniqueName } from '../../support/unique.js';
import { runSinkConformance, type SinkLocation } from '../sinks/conformance.js';
import { deleteRecord, productRecord, targetOf } from './woocommerce-fixtures.js';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
afterAll(() => redis.disconnect());

const REFUSED = 'REFUSED-';

// The shared sink suite, against the loopback shop: the shop's own view decides what it holds.
runSinkConformance({
  name: 'WooCommerce',
  async setup(): Promise<SinkLocation> {
    const server = await startWooServer();
    for (const entity of ['lamp', 'chair', 'desk', 'sofa']) {
      server.faults.failSkus.set(`${REFUSED}${entity}`, { status: 400, code: 'woocommerce_rest_invalid_product_data', message: 'The product data is invalid.' });
    }
    const prefix = `${uniqueName('woo-conf')}:`;
    return {
      open: () => new WoocommerceSink(targetOf(server), { redis, keyPrefix: prefix }),
      async read(key) {
        const live = server.allProducts().find((p) => server.meta(p, 'ragsync_key') === key);
        if (live) return { version: BigInt(String(server.meta(live, 'ragsync_version'))), deleted: false };
        const gone = server.deletedProducts().find((p) => server.meta(p, 'ragsync_key') === key);
        return gone ? { version: BigInt(String(server.meta(gone, 'ragsync_version'))), deleted: true } : undefined;
      },
      async cleanup() {
        await server.close();
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      },
    };
  },
  save: (entity, version) => productRecord(entity, version),
  remove: (entity, version) => deleteRecord(entity, version),
  // The loopback shop refuses these SKUs per item, as WooCommerce refuses invalid product data.
  refused: (entity, version) => productRecord(`${REFUSED}${entity}`, version),
});
