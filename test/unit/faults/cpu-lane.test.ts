import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enterLane, LANE_SETTLE_MS } from '../../faults/support/cpu-lane.js';

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
    const leaveA = await enterLane(10, 1);
    const leaveB = await enterLane(11, 1);
    const wide = enterLane(12, 2);
    expect(await settledWithin(wide, 1200)).toBe(false);
    leaveA();
    expect(await settledWithin(wide, 1200)).toBe(false);
    leaveB();
    expect(await settledWithin(wide, 2000)).toBe(true);
    (await wide)();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives a freed place to the lowest rank waiting, and lets none jump the queue', async () => {
    const leaveA = await enterLane(1, 2);
    const order: number[] = [];
    const late = enterLane(9, 1).then((leave) => (order.push(9), leave));
    const early = enterLane(3, 2).then((leave) => (order.push(3), leave));
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
    expect(await settledWithin(enterLane(5, 2).then((leave) => leave()), 2000)).toBe(true);
  });

  it('lets no one in during its first seconds, so that the files starting together all queue first', async () => {
    writeFileSync(join(dir, 'opened'), String(Date.now() - LANE_SETTLE_MS + 1500));
    const first = enterLane(1, 1);
    expect(await settledWithin(first, 700)).toBe(false);
    expect(await settledWithin(first, 3000)).toBe(true);
    (await first)();
  });

  it('runs at once without a lane folder', async () => {
    delete process.env.RAGSYNC_FAULTS_LANE;
    expect(await settledWithin(enterLane(1, 2), 100)).toBe(true);
  });
});
