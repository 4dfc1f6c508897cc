import { describe, it } from 'vitest';
import { workerKills } from './scenarios/worker-kill.js';

describe('workers stopped while they work', () => {
  it('SIGKILL 20× during 50,000 events on 200 keys: nothing lost, nothing stale', async ({ task }) => {
    await workerKills('1. SIGKILL 20×', { events: 50_000, keys: 200, kills: 20, partitions: 6, fault: 'SIGKILL' }, (row) => (task.meta.fault = row));
  });

  it('SIGTERM 20×: nothing lost, nothing stale', async ({ task }) => {
    await workerKills('2. SIGTERM 20×', { events: 20_000, keys: 200, kills: 20, partitions: 6, fault: 'SIGTERM' }, (row) => (task.meta.fault = row));
  });
});

describe('Redis emptied under a running worker', () => {
  it('every Redis key of the pipeline deleted 5× during 20,000 events: nothing lost, nothing stale', async ({ task }) => {
    await workerKills('14. Redis flushed 5×', { events: 20_000, keys: 200, kills: 5, partitions: 6, fault: 'flush-redis' }, (row) => (task.meta.fault = row));
  });
});

describe('workers added and removed while they work', () => {
  it('a second worker added or one removed 30× during 30,000 events: nothing lost, nothing stale', async ({ task }) => {
    await workerKills('3. workers added and removed 30×', { events: 30_000, keys: 200, kills: 30, partitions: 6, fault: 'scale' }, (row) => (task.meta.fault = row));
  });
});
