import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enterLane } from '../../faults/support/cpu-lane.js';

/** No quiet period: these tests are about places and order. */
const NOW = { quietMs: 0, capacity: 2 };

const settledWithin = async (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('the fault suite’s CPU lane', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lane-test-'));
    process.env.RAGSYNC_FAULTS_LANE = dir;
  });
  afterEach(() => {
    delete process.env.RAGSYNC_FAULTS_LANE;
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets two of weight 1 in at once, and one of weight 2 only once both have left', async () => {
    const leaveA = await enterLane(10, 1, NOW);
    const leaveB = await enterLane(11, 1, NOW);
    const wide = enterLane(12, 2, NOW);
    expect(await settledWithin(wide, 1200)).toBe(false);
    leaveA();
    expect(await settledWithin(wide, 1200)).toBe(false);
    leaveB();
    expect(await settledWithin(wide, 2000)).toBe(true);
    (await wide)();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives a freed place to the lowest rank waiting, and lets none jump the queue', async () => {
    const leaveA = await enterLane(1, 2, NOW);
    const order: number[] = [];
    const late = enterLane(9, 1, NOW).then((leave) => (order.push(9), leave));
    const early = enterLane(3, 2, NOW).then((leave) => (order.push(3), leave));
    await new Promise((resolve) => setTimeout(resolve, 700));
    leaveA();
    (await early)();
    (await late)();
    expect(order).toEqual([3, 9]);
  });

  it('counts no ticket of a process that is gone, and takes over a mutex a dead process left', async () => {
    // pid 2^22 + 1 is above Linux's largest pid: no process has it.
    writeFileSync(join(dir, 'held-0001-4194305-2'), '');
    mkdirSync(join(dir, 'mutex'));
    writeFileSync(join(dir, 'mutex', 'pid'), '4194305');
    expect(await settledWithin(enterLane(5, 2, NOW).then((leave) => leave()), 2000)).toBe(true);
  });

  it('lets no one in until no ticket has come for a while, so that the files starting together all queue first', async () => {
    // Another process's ticket (this test's parent: alive), written just before, of a higher rank.
    const other = join(dir, `wait-0009-${process.ppid}-1`);
    writeFileSync(other, '');
    const quietMs = 3000;
    const past = (Date.now() - 1000) / 1000;
    utimesSync(other, past, past);
    const started = Date.now();
    const first = enterLane(1, 1, { quietMs, capacity: 2 });
    // Its own ticket is the newest: the lane waits a whole quiet period from it, not from the other's.
    expect(await settledWithin(first, 2500)).toBe(false);
    expect(await settledWithin(first, 2500)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(quietMs);
    (await first)();
    rmSync(other);
  });


  it('runs at once without a lane folder', async () => {
    delete process.env.RAGSYNC_FAULTS_LANE;
    expect(await settledWithin(enterLane(1, 2, NOW), 100)).toBe(true);
  });
});
