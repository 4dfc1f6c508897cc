import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/index.js';
import { CORE_STAGE_NAMES, enabledStages, PUSH_STAGE_NAMES, STAGES } from '../../../src/core/stages.js';
import { topicCatalogue } from '../../../src/kafka/topic-catalogue.js';
import { loadConfig } from '../../../src/config/index.js';

const shopware = { url: 'https://shop.example.com', clientId: 'SWIAEXAMPLE', clientSecret: 'secret-1', taxId: 'a'.repeat(32) };

describe('push stages', () => {
  it('have a group, an input of their class and their own due topic; price and stock lanes read only their aspect', () => {
    for (const name of PUSH_STAGE_NAMES) {
      const stage = STAGES[name];
      expect(stage.terminal).toBe(true);
      expect(stage.target).toBeDefined();
      expect(stage.inputs).toContain(`${stage.group}.retry.due`);
    }
    expect(STAGES['push-shopware-price'].inputs).toEqual(['changes.product_price', 'push-shopware-price.retry.due']);
    expect(STAGES['push-woocommerce-stock'].inputs).toEqual(['changes.product_stock', 'push-woocommerce-stock.retry.due']);
    expect(STAGES['push-shopware'].inputs).toEqual(['changes.product', 'push-shopware.retry.due']);
  });

  it('are enabled only by a tenant that configures their target', () => {
    expect(enabledStages({}).map((s) => s.name)).toEqual([...CORE_STAGE_NAMES]);
    const tenants = { a: { targets: { shopware, webhooks: [] } }, b: { targets: { webhooks: [{ name: 'hook', url: 'https://r.example.com', secret: 's' }] } } };
    expect(enabledStages(tenants).map((s) => s.name)).toEqual([...CORE_STAGE_NAMES, 'push-shopware', 'push-shopware-price', 'push-shopware-stock', 'push-webhook']);
  });

  it("put their DLQ, retry and due topics in the catalogue only when enabled", () => {
    const plain = loadConfig({ env: {} });
    const names = (c: typeof plain) => topicCatalogue(c).map((t) => t.logical);
    expect(names(plain).some((n) => n.startsWith('push-'))).toBe(false);
    const withShop = loadConfig({ env: {}, overrides: { tenants: { a: { secrets: [], stores: [0], targets: { shopware, webhooks: [] } } } } });
    expect(names(withShop)).toEqual(expect.arrayContaining(['push-shopware.dlq', 'push-shopware-price.retry.5m', 'push-shopware-stock.retry.due']));
    expect(names(withShop).some((n) => n.startsWith('push-woocommerce'))).toBe(false);
  });

  it('refuse a target config with a wrong field, naming it', () => {
    const result = configSchema.shape.tenants.safeParse({ a: { targets: { shopware: { ...shopware, taxId: 'nope' } } } });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('taxId');
  });
});
