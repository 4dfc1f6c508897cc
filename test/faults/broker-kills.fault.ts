import { describe, it } from 'vitest';
import { brokerKills } from './scenarios/broker.js';

/** FAULTS_SCALE (default 1) shrinks the events for a quick run, e.g. 0.1; the suite's own figures are at 1. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const events = (n: number) => Math.max(300, Math.round(n * SCALE));

// Each broker scenario starts a broker of its own, so each has a file of its own: the suite runs files side by side.
describe('the broker killed while webhooks are answered', () => {
  it('kill -9 of the broker 5× during 10,000 webhook events: every item answered 202 is on Kafka; the worker recovers unaided; nothing lost, stale or twice', async ({ task }) => {
    await brokerKills('4. broker kill -9 5× during webhook ingest', { events: events(10_000), keys: 200, kills: 5, partitions: 3, senders: 4 }, (row) => (task.meta.fault = row));
  });
});
