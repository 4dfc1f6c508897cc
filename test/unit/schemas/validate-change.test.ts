import { describe, expect, it } from 'vitest';
import { validateChange } from '../../../src/schemas/validate.js';
import { SAMPLES } from './samples.js';

describe('validateChange', () => {
  it('returns the value with its defaults filled', () => {
    const result = validateChange('product', SAMPLES.product.minimal);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({ sku: 'LAMP-1', status: 'enabled', categories: [], attributes: {}, price: null });
  });

  it('names each wrong field in the issues', () => {
    const result = validateChange('product', { ...SAMPLES.product.full, tenant: 'Shop A', status: 'on', attributes: { size: 4 } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path).sort()).toEqual(['attributes.size', 'status', 'tenant']);
    const tenant = result.issues.find((i) => i.path === 'tenant')!;
    expect(tenant.message).toMatch(/^tenant: must match/);
    expect(result.issues.find((i) => i.path === 'status')!.message).toContain('enabled, disabled');
  });

  it('reports a missing required field by name', () => {
    const { sku: _sku, ...withoutSku } = SAMPLES.product.full;
    const result = validateChange('product', withoutSku);
    expect(result).toEqual({ ok: false, issues: [{ path: 'sku', message: expect.stringMatching(/^sku: /) }] });
  });

  it('validates orders too', () => {
    expect(validateChange('order', SAMPLES.order.full).ok).toBe(true);
    expect(validateChange('order', { ...SAMPLES.order.full, items: [{ sku: 1 }] }).ok).toBe(false);
  });

  it('refuses an unknown change type', () => {
    expect(validateChange('customer' as never, {})).toEqual({ ok: false, issues: [{ path: '', message: 'unknown change type "customer"' }] });
  });
});
