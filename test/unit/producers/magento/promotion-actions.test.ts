import { describe, expect, it } from 'vitest';
import { createMapStage } from '../../../../src/consumers/map/map-stage.js';
import { configSchema } from '../../../../src/config/schema.js';
import type { DocumentRecord } from '../../../../src/core/records.js';
import type { InputRecord, StageContext } from '../../../../src/core/stage.js';
import { parseChangeItem } from '../../../../src/producers/items/change-item.js';
import { itemToMessages } from '../../../../src/producers/items/to-messages.js';
import { avroType } from '../../../../src/schemas/avro-types.js';
import { loadAvsc } from '../../../../src/schemas/avsc-files.js';

/**
 * A Magento cart or catalog price rule from the webhook item to the promotion document: read by
 * the ingress, written and read back as Avro, mapped by the map stage. Every rule action Magento
 * 2.4 has (SalesRule\Model\Rule, CatalogRule's actions) reads as the offer it is.
 */
const NOW = Date.UTC(2026, 5, 15);
const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };

async function documentOf(data: Record<string, unknown>): Promise<DocumentRecord> {
  const parsed = parseChangeItem({ type: 'promotion', id: 'rule-7', action: 'save', store_id: 1, data: { name: 'Lamp week', is_active: '1', ...data } });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const result = itemToMessages(parsed.item, { tenant: 'acme', stores: [1], sourceVersion: 5n, occurredAt: NOW });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  const [message] = result.messages;
  const type = avroType(loadAvsc('promotion'));
  const value = type.fromBuffer(type.toBuffer(message!.value)) as Record<string, unknown>;
  const record: InputRecord = { topic: 'changes.promotion', partition: 0, offset: '1', key: message!.key, value, headers: {}, sourceVersion: 5n, occurredAt: NOW };
  const [outcome] = await createMapStage({ filters: configSchema.shape.filters.parse({}) }, { now: () => NOW }).process([record], context);
  if (!outcome?.ok || !outcome.outputs[0]?.value) throw new Error(`expected a document, got ${JSON.stringify(outcome)}`);
  return outcome.outputs[0].value;
}

describe('a promotion document', () => {
  const actions: Array<[Record<string, unknown>, string]> = [
    [{ discount_type: 'buy_x_get_y', discount_amount: '1.0000', discount_step: '2' }, 'Offer: buy 2, get 1 free.'],
    [{ simple_action: 'buy_x_get_y', discount_amount: '1', discount_step: '0' }, 'Offer: get 1 free.'],
    [{ discount_type: 'by_percent', discount_amount: '15.0000' }, 'Discount: 15% off.'],
    [{ discount_type: 'by_fixed', discount_amount: '5' }, 'Discount: 5.00 off each item (fixed amount).'],
    [{ discount_type: 'cart_fixed', discount_amount: '20' }, 'Discount: 20.00 off the whole cart (fixed amount).'],
    [{ simple_action: 'to_percent', discount_amount: '80' }, 'Price: 80% of the original price.'],
    [{ simple_action: 'to_fixed', discount_amount: '49.9' }, 'Price: 49.90 (discounted price).'],
    [{ discount_type: 'ampromo_items', discount_amount: '1' }, 'Discount: 1.'],
  ];

  it('says what each Magento rule action offers (and only the amount for an action it does not know)', async () => {
    for (const [data, sentence] of actions) {
      const doc = await documentOf(data);
      expect(doc.doc_type).toBe('promotion');
      expect(doc.text, JSON.stringify(data)).toContain(sentence);
    }
  });

  it('keeps the rule action and step in its payload', async () => {
    const doc = await documentOf({ discount_type: 'buy_x_get_y', discount_amount: '1', discount_step: '3' });
    expect(JSON.parse(doc.payload_json)).toMatchObject({ discount_action: 'buy_x_get_y', discount_step: 3, discount_amount: 1, discount_type: null });
  });
});
