import { describe, expect, it } from 'vitest';
import { checkOptions, derivedInputs, keyFilter, newResyncId, parseTypes, ResyncUsageError, resyncGroupPrefix, sameResync, sourceTopics, stagesFrom } from '../../../src/resync/options.js';

describe('resync options', () => {
  it('replays from vectors by default, and names the stages of each start', () => {
    expect(checkOptions({}, 'ragsync')).toEqual({ from: 'vectors' });
    expect(stagesFrom('changes')).toEqual(['map', 'chunk', 'embed', 'store']);
    expect(stagesFrom('documents')).toEqual(['chunk', 'embed', 'store']);
    expect(stagesFrom('vectors')).toEqual(['store']);
  });

  it('marks keys from the first input of the replay, never from aspects or retry topics', () => {
    expect(sourceTopics('vectors')).toEqual(['vectors']);
    expect(sourceTopics('documents')).toEqual(['documents']);
    expect(sourceTopics('changes')).toEqual(['changes.product', 'changes.category', 'changes.cms_page', 'changes.cms_block', 'changes.promotion']);
  });

  it('starts a stage at the end of the topics an earlier stage of the replay writes, and only those', () => {
    expect(derivedInputs(stagesFrom('changes'))).toEqual([
      { stage: 'chunk', topics: ['documents'] },
      { stage: 'embed', topics: ['chunks'] },
      { stage: 'store', topics: ['vectors'] },
    ]);
    expect(derivedInputs(stagesFrom('documents'))).toEqual([
      { stage: 'embed', topics: ['chunks'] },
      { stage: 'store', topics: ['vectors'] },
    ]);
    // The first stage replays its sources from their beginning.
    expect(derivedInputs(stagesFrom('vectors'))).toEqual([]);
  });

  it('names what is wrong with bad input', () => {
    expect(() => checkOptions({ from: 'chunks' }, 'ragsync')).toThrow('--from: expected changes, documents, vectors, got "chunks"');
    expect(() => checkOptions({ tenant: 'Shop!' }, 'ragsync')).toThrow(ResyncUsageError);
    expect(() => parseTypes('product,page')).toThrow('--types: unknown entity type page');
    expect(() => parseTypes(' , ')).toThrow('--types: expected a comma-separated list');
    expect(() => checkOptions({ into: 'ragsync' }, 'ragsync')).toThrow('is the configured collection itself');
    expect(() => checkOptions({ into: 'new/one' }, 'ragsync')).toThrow('is not a collection name');
    expect(() => checkOptions({ into: 'x_heads' }, 'ragsync')).toThrow('ends in _heads');
    expect(() => checkOptions({ into: 'v2', tenant: 'shop' }, 'ragsync')).toThrow('cannot be combined with --tenant or --types');
  });

  it('keeps keys of the tenant and types asked for, and nothing unparseable', () => {
    const inScope = keyFilter({ tenant: 'shop', types: ['product', 'cms_page'] });
    expect(inScope('shop/product/SKU-1/1')).toBe(true);
    expect(inScope('shop/cms_page/about/0')).toBe(true);
    expect(inScope('shop/category/7/1')).toBe(false);
    expect(inScope('other/product/SKU-1/1')).toBe(false);
    expect(inScope('not a key')).toBe(false);
    expect(keyFilter({})('anything')).toBe(true);
  });

  it('names resyncs by their start, and groups under their id', () => {
    const id = newResyncId(new Date('2026-12-03T14:05:12.345Z'), '9f3a');
    expect(id).toBe('resync-20261203t140512-9f3a');
    expect(resyncGroupPrefix('ragsync.', id)).toBe('ragsync.resync-20261203t140512-9f3a.');
  });

  it('resumes only the same resync', () => {
    expect(sameResync({ from: 'vectors', types: ['product', 'category'] }, { from: 'vectors', types: ['category', 'product'] })).toBe(true);
    expect(sameResync({ from: 'vectors' }, { from: 'vectors', into: 'v2' })).toBe(false);
    expect(sameResync({ from: 'vectors' }, { from: 'changes' })).toBe(false);
  });
});
