import { describe, it } from 'vitest';
import { brokerDown, brokerKills, networkCut } from './scenarios/broker.js';

/**
 * FAULTS_SCALE (default 1) shrinks the events and the downtime for a quick run, e.g. 0.1; the
 * suite's own figures are at 1.
 */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const events = (n: number) => Math.max(300, Math.round(n * SCALE));
const ms = (n: number, floor: number) => Math.max(floor, Math.round(n * SCALE));

describe('the broker killed while webhooks are answered', () => {
  it('kill -9 of the broker 5× during 10,000 webhook events: every item answered 202 is on Kafka; the worker recovers unaided; nothing lost, stale or twice', async ({ task }) => {
    await brokerKills('4. broker kill -9 5× during webhook ingest', { events: events(10_000), keys: 200, kills: 5, partitions: 3, senders: 4 }, (row) => (task.meta.fault = row));
  });
});

describe('the broker away for 5 minutes', () => {
  it('the worker waits (not ready, alive, healthy), then drains the lag within 5 minutes of the return: nothing lost, stale or twice', async ({ task }) => {
    await brokerDown('5. broker down 5 min', { events: events(20_000), keys: 200, partitions: 3, downMs: ms(5 * 60_000, 60_000) }, (row) => (task.meta.fault = row));
  });
});

describe('the network to the broker cut', () => {
  it('60 s without a byte between the worker and the broker while events arrive: nothing lost, stale or twice', async ({ task }) => {
    await networkCut('16. network cut 60 s', { events: events(20_000), keys: 200, partitions: 3, cutMs: ms(60_000, 20_000) }, (row) => (task.meta.fault = row));
  });
});
