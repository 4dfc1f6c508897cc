import { describe, expect, it } from 'vitest';
import { createMapStage, FILTER_REASON_HEADER } from '../../../src/consumers/map/map-stage.js';
import type { InputRecord, StageContext } from '../../../src/core/stage.js';
import { category, changeRecord, cmsBlock, cmsPage, defaultFilters, product, promotion } from './samples.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };
const NOW = Date.UTC(2026, 11, 5, 23, 59);

/** The filter reason when the record becomes a tombstone, or 'indexed' when it becomes a document. */
async function outcome(record: InputRecord, filters: Record<string, unknown> = {}, now = NOW): Promise<string> {
  const [result] = await createMapStage(defaultFilters(filters), { now: () => now }).process([record], context);
  if (!result?.ok) throw new Error(`unexpected failure: ${String(result?.error)}`);
  const output = result.outputs[0]!;
  return output.value === null ? (output.headers?.[FILTER_REASON_HEADER] ?? 'tombstone') : 'indexed';
}

describe('entity filters', () => {
  describe('for products', () => {
    it('skips disabled products unless configured otherwise', async () => {
      expect(await outcome(changeRecord('product', product({ status: 'disabled' })))).toBe('product_disabled');
      expect(await outcome(changeRecord('product', product({ status: 'disabled' })), { skipDisabledProducts: false })).toBe('indexed');
    });

    it('skips products not visible individually unless configured otherwise', async () => {
      expect(await outcome(changeRecord('product', product({ visibility: 1 })))).toBe('product_not_visible');
      expect(await outcome(changeRecord('product', product({ visibility: 1 })), { skipInvisibleProducts: false })).toBe('indexed');
      expect(await outcome(changeRecord('product', product({ visibility: 2 })))).toBe('indexed');
      expect(await outcome(changeRecord('product', product({ visibility: null })))).toBe('indexed');
    });
  });

  describe('for CMS pages and blocks', () => {
    it('skips the default blacklist (no-route, home, enable-cookies)', async () => {
      for (const identifier of ['no-route', 'home', 'enable-cookies']) {
        expect(await outcome(changeRecord('cms_page', cmsPage({ identifier, entity_id: identifier })))).toBe('cms_blacklisted');
      }
    });

    it('keeps only whitelisted identifiers when a whitelist is set, case-insensitively', async () => {
      const filters = { cmsWhitelist: ['Returns', 'store-hours'] };
      expect(await outcome(changeRecord('cms_page', cmsPage()), filters)).toBe('indexed');
      expect(await outcome(changeRecord('cms_block', cmsBlock()), filters)).toBe('indexed');
      expect(await outcome(changeRecord('cms_page', cmsPage({ identifier: 'about-us', entity_id: 'about-us' })), filters)).toBe('cms_not_whitelisted');
    });

    it('skips inactive pages and blocks', async () => {
      expect(await outcome(changeRecord('cms_page', cmsPage({ is_active: false })))).toBe('cms_inactive');
      expect(await outcome(changeRecord('cms_block', cmsBlock({ is_active: false })))).toBe('cms_inactive');
    });

    it('skips a page or block without readable content', async () => {
      expect(await outcome(changeRecord('cms_block', cmsBlock({ content: '{{widget type="Magento\\Cms\\Block\\Widget\\Block" block_id="3"}}' })))).toBe('cms_no_content');
      expect(await outcome(changeRecord('cms_page', cmsPage({ content: '<div> </div>' })))).toBe('cms_no_content');
    });
  });

  describe('for categories', () => {
    it('skips categories below the minimum level (the root)', async () => {
      expect(await outcome(changeRecord('category', category({ level: 1 })))).toBe('category_below_min_level');
      expect(await outcome(changeRecord('category', category({ level: 2 })))).toBe('indexed');
      expect(await outcome(changeRecord('category', category({ level: 2 })), { categoryMinLevel: 3 })).toBe('category_below_min_level');
    });

    it('skips inactive categories unless configured otherwise', async () => {
      expect(await outcome(changeRecord('category', category({ is_active: false })))).toBe('category_inactive');
      expect(await outcome(changeRecord('category', category({ is_active: false })), { skipInactiveCategories: false })).toBe('indexed');
    });
  });

  describe('for promotions', () => {
    it('skips inactive promotions unless configured otherwise', async () => {
      expect(await outcome(changeRecord('promotion', promotion({ is_active: false })))).toBe('promotion_inactive');
      expect(await outcome(changeRecord('promotion', promotion({ is_active: false })), { skipInactivePromotions: false })).toBe('indexed');
    });

    it('skips a promotion whose last day is before the current UTC day', async () => {
      const record = changeRecord('promotion', promotion({ to_date: '2026-12-07' }));
      expect(await outcome(record, {}, Date.UTC(2026, 11, 7, 23, 59))).toBe('indexed');
      expect(await outcome(record, {}, Date.UTC(2026, 11, 8, 0, 0))).toBe('promotion_expired');
      expect(await outcome(record, { skipExpiredPromotions: false }, Date.UTC(2027, 0, 1))).toBe('indexed');
    });

    it('keeps promotions without an end date and those not started yet', async () => {
      expect(await outcome(changeRecord('promotion', promotion({ to_date: null })), {}, Date.UTC(2030, 0, 1))).toBe('indexed');
      expect(await outcome(changeRecord('promotion', promotion()), {}, Date.UTC(2026, 0, 1))).toBe('indexed');
    });
  });
});
