import { describe, it } from 'vitest';
import { poisonInput } from './scenarios/poison.js';

describe('poison among good records', () => {
  it('1 % bad bytes, 0.5 % cut Avro and oversized documents in 20,000 events: each dead-lettered once, without the retry tiers; the rest applied', async ({ task }) => {
    await poisonInput('9. poison input', { events: 20_000, badBytes: 200, schemaInvalid: 100, oversized: 5 }, (row) => (task.meta.fault = row));
  });
});
