import { describe, it } from 'vitest';
import { webhookMatrix } from './scenarios/webhook-matrix.js';

describe('the webhook matrix', () => {
  it('tampering, wrong and rotated secrets, 100 concurrent deliveries of one batch, oversized, deep, invalid UTF-8, unknown tenant, 500 slow clients: every answer right, one record per item', async ({ task }) => {
    await webhookMatrix('17. webhook matrix', { replays: 100, slowClients: 500 }, (row) => (task.meta.fault = row));
  });
});
