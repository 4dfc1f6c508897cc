import { describe, expect, it } from 'vitest';
import { resyncArgs, ResyncUsageError } from '../../../src/dashboard/resync-job.js';

describe('the resync the dashboard starts', () => {
  it('passes each field as its flag, and always asks for JSON progress without a prompt', () => {
    expect(resyncArgs({})).toEqual(['resync', '--progress', 'json', '--yes']);
    expect(resyncArgs({ tenant: 'shop', types: ['product', 'category'], from: 'vectors', into: 'ragsync_v2' })).toEqual([
      'resync', '--tenant', 'shop', '--types', 'product,category', '--from', 'vectors', '--into', 'ragsync_v2', '--progress', 'json', '--yes',
    ]);
    expect(resyncArgs({ tenant: '', types: [''], into: '' })).toEqual(['resync', '--progress', 'json', '--yes']);
  });

  it('refuses what is not a tenant, an entity type, a source or a collection name, naming it', () => {
    expect(() => resyncArgs({ tenant: 'Shop; rm -rf /' })).toThrow(ResyncUsageError);
    expect(() => resyncArgs({ types: ['product', 'orders'] })).toThrow(/unknown entity type orders/);
    expect(() => resyncArgs({ from: 'chunks' as never })).toThrow(/from "chunks"/);
    expect(() => resyncArgs({ into: '--yes' })).toThrow(/into "--yes"/);
  });
});
