import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { isAlive } from '../../../src/stack/processes.js';

/**
 * The fault suite runs several files side by side, mostly to overlap their long waits (a store
 * paused for 10 minutes, a broker down for 5). The scenarios that keep both cores busy (workers
 * killed and restarted 20 times, 5,000 events a second) must not run at once on a machine of two
 * cores: side by side (even two of them, beside the files that mostly wait) they starve each other
 * and everything else, and a check of a rate or a deadline fails for the machine's sake, not the
 * pipeline's. They take places in a lane instead: `LANE_CAPACITY` places (one: two let the broker
 * scenarios beside them fail at a load of 48), each scenario `weight` of them, given out in the
 * order of their rank, one at a time.
 *
 * The lane is a folder the suite's setup makes (RAGSYNC_FAULTS_LANE); the test files are separate
 * processes. Each waiting scenario writes a ticket, and moves it to `held-` once it is first in
 * line and its places are free; a ticket whose process is gone counts no more. Decisions are made
 * under a mutex (a folder: mkdir is atomic). Without the variable (a file run through another
 * configuration) a scenario runs at once.
 */
export const LANE_CAPACITY = 1;

const POLL_MS = 500;

/**
 * No one enters until no new ticket has come for this long: the files that start together (eight
 * processes importing their modules at once, which on two cores takes up to a minute) all write
 * their tickets first, so the lowest rank really goes first.
 */
export const LANE_QUIET_MS = 15_000;

/**
 * The order of the scenarios in the lane: the one that measures a publish rate and memory (15)
 * after the kills, where it passed at 5,011 events/s; first, while the other files start and
 * publish their workloads, it failed even alone.
 */
export const LANE_RANK: Record<string, number> = {
  'worker-kills.fault.ts': 1,
  'throttled.fault.ts': 2,
  'worker-churn.fault.ts': 3,
  'redis-flush.fault.ts': 4,
  'poison.fault.ts': 5,
};

interface Ticket {
  file: string;
  held: boolean;
  rank: number;
  pid: number;
  weight: number;
  /** When it was written (a ticket is never written again). */
  since: number;
}

function tickets(dir: string): Ticket[] {
  const found: Ticket[] = [];
  for (const file of readdirSync(dir)) {
    const match = /^(held|wait)-(\d+)-(\d+)-(\d+)$/.exec(file);
    if (!match) continue;
    let since: number;
    try {
      since = statSync(join(dir, file)).mtimeMs;
    } catch {
      continue; // taken or removed meanwhile
    }
    const ticket = { file, held: match[1] === 'held', rank: Number(match[2]), pid: Number(match[3]), weight: Number(match[4]), since };
    if (isAlive(ticket.pid)) found.push(ticket);
    else rmSync(join(dir, file), { force: true });
  }
  return found;
}

/** Runs `decide` while no other process of the suite decides; a mutex left by a dead process is taken over. */
function underMutex<T>(dir: string, decide: () => T): T | undefined {
  const mutex = join(dir, 'mutex');
  try {
    mkdirSync(mutex);
  } catch {
    let owner = 0;
    try {
      owner = Number(readFileSync(join(mutex, 'pid'), 'utf8'));
    } catch {
      // made but not yet signed: its owner is deciding
    }
    if (owner > 0 && !isAlive(owner)) rmSync(mutex, { recursive: true, force: true });
    return undefined;
  }
  try {
    writeFileSync(join(mutex, 'pid'), String(process.pid));
    return decide();
  } finally {
    rmSync(mutex, { recursive: true, force: true });
  }
}

/**
 * Waits for `weight` places in the lane (the scenario with the lowest `rank` first) and returns
 * the function that gives them back.
 */
export async function enterLane(
  rank: number,
  weight: number,
  { log = () => undefined, quietMs = LANE_QUIET_MS, capacity = LANE_CAPACITY }: { log?: (line: string) => void; quietMs?: number; capacity?: number } = {},
): Promise<() => void> {
  const dir = process.env.RAGSYNC_FAULTS_LANE;
  if (!dir) return () => undefined;
  if (weight < 1 || weight > capacity) throw new Error(`a lane weight is between 1 and ${capacity}, not ${weight}`);
  const name = `${String(rank).padStart(4, '0')}-${process.pid}-${weight}`;
  writeFileSync(join(dir, `wait-${name}`), '');
  const since = Date.now();
  let announced = false;
  for (;;) {
    const entered = underMutex(dir, () => {
      const all = tickets(dir);
      if (Date.now() < Math.max(...all.filter((t) => !t.held).map((t) => t.since)) + quietMs) return false;
      const held = all.filter((t) => t.held).reduce((sum, t) => sum + t.weight, 0);
      const first = all.filter((t) => !t.held).sort((a, b) => a.rank - b.rank || a.pid - b.pid)[0];
      if (first?.file !== `wait-${name}` || held + weight > capacity) return false;
      renameSync(join(dir, `wait-${name}`), join(dir, `held-${name}`));
      return true;
    });
    if (entered) break;
    if (!announced) {
      log(`waiting for ${weight} of the ${capacity} place(s) for scenarios that keep the cores busy`);
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (announced) log(`entered the lane after ${Math.round((Date.now() - since) / 1000)} s`);
  return () => rmSync(join(dir, `held-${name}`), { force: true });
}

/** How long a scenario may wait for its places: the whole suite's length. */
const LANE_WAIT_MS = 40 * 60_000;

/**
 * Every test of the calling file runs in the lane, `weight` places, after the scenarios of lower
 * `rank` (LANE_RANK). The wait is a hook of its own, so it
 * does not count against the test's timeout.
 */
export function inLane(rank: number, weight: number): void {
  let leave: (() => void) | undefined;
  beforeEach(async ({ task }) => {
    leave = await enterLane(rank, weight, { log: (line) => console.log(`${task.name.slice(0, 40)}…: ${line}`) });
  }, LANE_WAIT_MS);
  afterEach(() => {
    leave?.();
    leave = undefined;
  });
}
