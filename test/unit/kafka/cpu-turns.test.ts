import { setImmediate as nextIteration } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CpuTurns, MAX_PASSED } from '../../../src/kafka/cpu-turns.js';

/** Queues steps named by `[name, priority]` at once and returns the order in which they got their turns. */
async function order(turns: CpuTurns, steps: Array<[string, number]>): Promise<string[]> {
  const served: string[] = [];
  await Promise.all(steps.map(([name, priority]) => turns.take(priority).then(() => served.push(name))));
  return served;
}

describe('CpuTurns', () => {
  it('serves equal priorities first come first served, one per event-loop iteration', async () => {
    const turns = new CpuTurns();
    const served: string[] = [];
    const all = ['a', 'b', 'c'].map((name) => turns.take(1).then(() => served.push(name)));
    expect(served).toEqual([]);
    await nextIteration();
    // One step per iteration: I/O completed meanwhile is served between any two steps.
    expect(served.length).toBeLessThanOrEqual(1);
    await Promise.all(all);
    expect(served).toEqual(['a', 'b', 'c']);
  });

  it('gives the step of a stage further down the pipeline its turn before the ones waiting longer', async () => {
    expect(await order(new CpuTurns(), [['map-1', 0], ['map-2', 0], ['chunk', 1], ['embed', 2], ['chunk-2', 1]])).toEqual(['embed', 'chunk', 'chunk-2', 'map-1', 'map-2']);
  });

  it(`lets a waiting step be overtaken at most ${MAX_PASSED} times, however many steps of later stages keep coming`, async () => {
    const turns = new CpuTurns();
    const served: string[] = [];
    const mapStep = turns.take(0).then(() => served.push('map'));
    // The embed stage keeps a step waiting all the time: each turn it gets queues the next.
    let embedSteps = 0;
    const embed = async (): Promise<void> => {
      while (embedSteps < 3 * MAX_PASSED) {
        await turns.take(2);
        served.push('embed');
        embedSteps += 1;
      }
    };
    const embedders = [embed(), embed()];
    await mapStep;
    expect(served.indexOf('map')).toBe(MAX_PASSED);
    await Promise.all(embedders);
    expect(turns.pending).toBe(0);
  });
});
