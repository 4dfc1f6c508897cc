import { describe, it } from 'vitest';
import { poisonInput } from '../faults/scenarios/poison.js';
import { webhookMatrix } from '../faults/scenarios/webhook-matrix.js';
import { shrinkingDocument } from '../faults/scenarios/shrink.js';
import { workerKills } from '../faults/scenarios/worker-kill.js';

/**
 * The quick subset of the fault suite (`npm run test:faults` runs every scenario at full size):
 * the same scenarios, smaller.
 */
describe('faults, quick', () => {
  it('SIGKILL 3× during 3,000 events on 200 keys: nothing lost, nothing stale, nothing twice', async ({ task }) => {
    await workerKills('SIGKILL 3× (quick)', { events: 3000, keys: 200, kills: 3, partitions: 4, fault: 'SIGKILL' }, (row) => (task.meta.fault = row));
  }, 600_000);
});

describe('a document that shrinks', () => {
  it('from 40 chunks to 12, the new version sent 10×: exactly 12 points', async ({ task }) => {
    await shrinkingDocument('11. shrink 40 → 12, resent 10×', 10, (row) => (task.meta.fault = row));
  }, 300_000);
});

describe('poison among good records', () => {
  it('bad bytes, cut Avro and oversized documents each dead-lettered once, without the retry tiers; the rest applied', async ({ task }) => {
    await poisonInput('9. poison input (quick)', { events: 600, badBytes: 6, schemaInvalid: 3, oversized: 2 }, (row) => (task.meta.fault = row));
  }, 600_000);
});

describe('the webhook matrix', () => {
  it('tampering, wrong and rotated secrets, a replay storm, oversized, deep, invalid UTF-8, unknown tenant, slow clients: every answer right, one record per item', async ({ task }) => {
    await webhookMatrix('17. webhook matrix (quick)', { replays: 30, slowClients: 50 }, (row) => (task.meta.fault = row));
  }, 300_000);
});
