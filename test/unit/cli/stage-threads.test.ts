import { describe, expect, it } from 'vitest';
import { threadGroups } from '../../../src/cli/stage-threads.js';
import { ConfigError } from '../../../src/core/errors.js';

const all = ['map', 'chunk', 'embed', 'store'] as const;

describe('threadGroups', () => {
  it('gives map a thread of its own and splits the rest in order, one thread per core', () => {
    expect(threadGroups([...all], 'auto', 2)).toEqual([['map'], ['chunk', 'embed', 'store']]);
    expect(threadGroups([...all], 'auto', 3)).toEqual([['map'], ['chunk', 'embed'], ['store']]);
    expect(threadGroups([...all], 'auto', 16)).toEqual([['map'], ['chunk'], ['embed'], ['store']]);
    expect(threadGroups([...all], 'auto', 1)).toEqual([[...all]]);
  });

  it('takes a number of threads, 1 keeping every stage on one', () => {
    expect(threadGroups([...all], '1', 8)).toEqual([[...all]]);
    expect(threadGroups([...all], '4', 1)).toEqual([['map'], ['chunk'], ['embed'], ['store']]);
    expect(threadGroups(['chunk', 'store'], '2', 8)).toEqual([['chunk'], ['store']]);
    expect(threadGroups(['store'], 'auto', 8)).toEqual([['store']]);
  });

  it('takes explicit groups that name each stage run exactly once', () => {
    expect(threadGroups([...all], 'map,chunk/embed,store')).toEqual([['map', 'chunk'], ['embed', 'store']]);
    expect(threadGroups([...all], ' store / map,chunk,embed ')).toEqual([['store'], ['map', 'chunk', 'embed']]);
  });

  it('refuses a setting it cannot read, naming the variable', () => {
    expect(() => threadGroups([...all], 'map,chunk/embed')).toThrow(ConfigError);
    expect(() => threadGroups([...all], 'map,chunk/embed')).toThrow(/RAGSYNC_STAGE_THREADS.*exactly once/);
    expect(() => threadGroups([...all], 'map,map/chunk,embed,store')).toThrow(/exactly once/);
    expect(() => threadGroups([...all], 'map,chunk/embed,stor')).toThrow(/unknown stage stor/);
    expect(() => threadGroups([...all], 'many')).toThrow(/expected auto, a number/);
    expect(() => threadGroups([...all], '0')).toThrow(/expected auto, a number/);
  });
});
