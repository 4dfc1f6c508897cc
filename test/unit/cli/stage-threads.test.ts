import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { stageThreadLimits, threadGroups } from '../../../src/cli/stage-threads.js';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/core/errors.js';

const all = ['map', 'chunk', 'embed', 'store'] as const;

describe('threadGroups', () => {
  it('leaves a core free: one thread on two cores, then map alone and the rest split in order', () => {
    expect(threadGroups([...all], 'auto', 2)).toEqual([[...all]]);
    expect(threadGroups([...all], 'auto', 3)).toEqual([['map'], ['chunk', 'embed', 'store']]);
    expect(threadGroups([...all], 'auto', 4)).toEqual([['map'], ['chunk', 'embed'], ['store']]);
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

/** The sizes (MB) of the V8 spaces of a thread started with `limits`, after it made garbage. */
async function threadSpaces(limits: ReturnType<typeof stageThreadLimits>): Promise<{ newSpace: number; heapLimit: number }> {
  const body = `
    const { getHeapSpaceStatistics, getHeapStatistics } = require('node:v8');
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i, text: 'garbage ' + i }); if (keep.length > 100000) keep = []; }
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    require('node:worker_threads').parentPort.postMessage({ newSpace: space.space_size / 1048576, heapLimit: getHeapStatistics().heap_size_limit / 1048576 });`;
  const worker = new Worker(body, { eval: true, resourceLimits: limits });
  try {
    return await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  } finally {
    await worker.terminate();
  }
}

describe('stageThreadLimits', () => {
  it('gives a stage thread the young generation and heap cap of the configuration', async () => {
    const defaults = loadConfig({ env: {} }).runner;
    expect(stageThreadLimits(defaults)).toEqual({ maxOldGenerationSizeMb: 192, maxYoungGenerationSizeMb: 12 });
    // 12 MB of young generation is two 4 MB semi-spaces: V8 alone would grow them to 16 MB each.
    const small = await threadSpaces(stageThreadLimits(defaults));
    expect(small.newSpace).toBeLessThanOrEqual(8);
    const larger = await threadSpaces(stageThreadLimits(loadConfig({ env: { RAGSYNC_THREAD_YOUNG_MB: '48', RAGSYNC_THREAD_HEAP_MB: '256' } }).runner));
    expect(larger.newSpace).toBeGreaterThan(8);
    expect(larger.heapLimit).toBeGreaterThan(small.heapLimit + 64 - 1);
  });

  it('refuses a young generation under 3 MB, naming the variable', () => {
    expect(() => loadConfig({ env: { RAGSYNC_THREAD_YOUNG_MB: '2' } })).toThrow(/RAGSYNC_THREAD_YOUNG_MB|threadYoungMb/);
  });
});
