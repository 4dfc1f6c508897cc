import { expect } from 'vitest';
import { HEADERS } from '../../../src/core/records.js';
import { retryTopicName } from '../../../src/kafka/topic-catalogue.js';
import { prng } from '../../support/generate-entities.js';
import { readAll } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import type { FaultRow } from '../support/summary.js';
import { compare, readLanceDb } from '../support/verify.js';
import { productKey, workload } from '../support/workload.js';
import { drain } from './pipeline-lag.js';

export interface PoisonOptions {
  events: number;
  /** Records of random bytes, not in the registry's wire format. */
  badBytes: number;
  /** Records in the wire format whose Avro body is cut short. */
  schemaInvalid: number;
  /** Products whose vectors exceed the topics' max.message.bytes. */
  oversized: number;
}

/** Topic size limit of this scenario: a normal record fits many times over, 200 chunks of vectors do not. */
const MAX_MESSAGE_BYTES = 256 * 1024;

function oversizedLine(id: string): string {
  const words = ['granite', 'harbor', 'lantern', 'meadow', 'summit', 'thistle', 'willow', 'copper'];
  const paragraphs = Array.from({ length: 220 }, (_, p) => `<p>Part ${p}: ${Array.from({ length: 130 }, (_, i) => words[(p + i) % words.length]).join(' ')}.</p>`);
  return JSON.stringify({ type: 'product', tenant: 'faults', store_id: 1, id, action: 'save', source_version: 1, data: { sku: id, name: `Field manual ${id}`, description: paragraphs.join(''), status: 'enabled', visibility: 4, price: 30, currency: 'EUR', qty: 1, stock_status: 'in_stock' } });
}

/**
 * Poison among good records: bytes that are not the wire format, wire-format records whose Avro is
 * cut short, and products too large for the vectors topic. Each must reach a DLQ exactly once, with
 * the headers that say what failed where, at its first attempt (neither tried again in place nor
 * passed through the retry tiers); every good
 * record must be applied and every group's lag must come back to 0.
 */
export async function poisonInput(name: string, options: PoisonOptions, report: (row: FaultRow) => void): Promise<void> {
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '4', RAGSYNC_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
  const { lancedbPath, collection } = harness.config.store;
  const prefix = harness.config.topics.prefix;
  const changes = `${prefix}changes.product`;
  const producer = harness.kafka.producer({ allowAutoTopicCreation: false });
  try {
    await harness.start();
    await producer.connect();
    const { lines, expected } = workload({ tenant: 'faults', seed: 9, keys: 300, events: options.events });
    const json = lines.map((l) => JSON.stringify(l));

    // A valid record to cut short: the wire format's magic byte and schema id, then a broken body.
    await harness.publishLines([oversizedLine('X-TEMPLATE')]);
    const template = (await readAll(harness.kafka, changes)).find((r) => r.key.includes('X-TEMPLATE'))!.value!;
    expected.set(productKey('faults', 'X-TEMPLATE', 1), { docKey: productKey('faults', 'X-TEMPLATE', 1), version: 1n, deleted: true });

    const random = prng(99);
    const poisonKeys: string[] = [];
    const badMessages: Array<{ key: string; value: Buffer }> = [];
    for (let i = 0; i < options.badBytes; i += 1) {
      const key = productKey('faults', `BAD-${i}`, 1);
      poisonKeys.push(key);
      badMessages.push({ key, value: Buffer.from(Array.from({ length: 40 + i }, (_, j) => (j === 0 ? 0x7b : Math.floor(random() * 256)))) });
    }
    for (let i = 0; i < options.schemaInvalid; i += 1) {
      const key = productKey('faults', `CUT-${i}`, 1);
      poisonKeys.push(key);
      badMessages.push({ key, value: template.subarray(0, 12 + i) });
    }
    const oversized = Array.from({ length: options.oversized }, (_, i) => `BIG-${i}`);
    for (const id of oversized) poisonKeys.push(productKey('faults', id, 1));

    // Interleave: a third of the good records, the raw poison, a third, the oversized ones, the rest.
    const third = Math.ceil(json.length / 3);
    await harness.publishLines(json.slice(0, third));
    await producer.send({ topic: changes, messages: badMessages });
    await harness.publishLines(json.slice(third, 2 * third));
    await harness.publishLines(oversized.map(oversizedLine));
    await harness.publishLines(json.slice(2 * third));
    // A poison record retried in place holds its partition for minutes (the backoff of every
    // attempt): the lag then stays flat, which fails at once instead of after the whole wait.
    const recoverySeconds = await drain(harness.kafka, harness.config, 300_000, () => 'in-process pipeline', { stallMs: 90_000 });

    // Dead letters, read with a separate client: each poison key exactly once, the template too
    // (it is oversized as well), nothing else.
    const dlqTopics = ['map', 'chunk', 'embed', 'store'].map((g) => `${prefix}${g}.dlq`);
    const dead = (await Promise.all(dlqTopics.map(async (topic) => (await readAll(harness.kafka, topic)).map((r) => ({ ...r, topic }))))).flat();
    const retried = (await Promise.all(harness.config.topics.retryDelaysMs.map((delay) => readAll(harness.kafka, `${prefix}${retryTopicName('store', delay)}`)))).flat();
    const wantDead = [...poisonKeys, productKey('faults', 'X-TEMPLATE', 1)].sort();
    const deadKeys = dead.map((d) => d.key).sort();

    const drift = compare(await readLanceDb(lancedbPath, collection), expected);
    const lostGood = drift.lost.filter((k) => !k.includes('X-TEMPLATE'));
    report({ test: name, events: lines.length + poisonKeys.length + 1, faults: `${options.badBytes} bad bytes, ${options.schemaInvalid} cut Avro, ${options.oversized + 1} oversized`, lost: lostGood.length + Math.max(0, wantDead.length - new Set(deadKeys).size), stale: drift.stale.length, duplicates: drift.duplicates + (deadKeys.length - new Set(deadKeys).size), recoverySeconds });

    expect(deadKeys, 'each poison record dead-lettered once, nothing else').toEqual(wantDead);
    for (const record of dead) {
      expect(record.headers[HEADERS.errorClass], record.key).toBe('permanent');
      expect(record.headers[HEADERS.errorCode], record.key).toMatch(/^(not_wire_format|undecodable|record_too_large)$/);
      expect(record.headers[HEADERS.origTopic], record.key).toBeTruthy();
      expect(record.headers[HEADERS.origOffset], record.key).toMatch(/^\d+$/);
      // Dead-lettered at the first failure: not tried again in place, nor through a retry topic.
      expect(record.headers[HEADERS.attempt], `attempts of ${record.key}`).toBe('1');
    }
    expect(dead.filter((d) => d.key.includes('/BAD-')).every((d) => d.topic.endsWith('map.dlq') && d.headers[HEADERS.errorCode] === 'not_wire_format')).toBe(true);
    expect(dead.filter((d) => d.key.includes('/BIG-')).every((d) => d.headers[HEADERS.errorCode] === 'record_too_large')).toBe(true);
    expect(retried, 'no poison record went through the retry tiers').toEqual([]);
    expect(lostGood, 'good records not applied').toEqual([]);
    expect(drift.stale).toEqual([]);
    expect(drift.duplicates).toBe(0);
    expect(drift.unexpected).toEqual([]);
  } finally {
    await producer.disconnect().catch(() => undefined);
    await harness.close();
  }
}

