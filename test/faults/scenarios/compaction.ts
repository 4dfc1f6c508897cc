import kafkajs from 'kafkajs';
import { expect } from 'vitest';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { topicCatalogue } from '../../../src/kafka/topic-catalogue.js';
import { readAll, type ReadRecord } from '../../support/kafka.js';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import type { FaultRow } from '../support/summary.js';

// kafkajs is CommonJS and this export is not visible to Node's ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

/**
 * Compaction keeps the last record of a key, not the one with the highest version (docs/design.md
 * §2 "Monotonic from the first hop on"). A save published late (after a newer save, or after a
 * delete) is the key's last record in its change topic; once the topic is compacted, a replay
 * would index it. The map stage drops such a record and republishes the newest applied one, so what
 * compaction keeps is the newest version, and a replay into an empty store rebuilds it.
 *
 * Compaction is really forced here: tiny segments, a dirty ratio of 1 %, no compaction lag, and
 * filler records that roll the segments holding the keys' records.
 */
const TENANT = 'shop';
const key = (id: string) => `${TENANT}/product/${encodeURIComponent(id)}/1`;

function saveLine(id: string, version: number, name: string): string {
  return JSON.stringify({ type: 'product', tenant: TENANT, store_id: 1, id, action: 'save', source_version: version, data: { sku: id, name, description: `<p>${name}, described.</p>` } });
}

function deleteLine(id: string, version: number): string {
  return JSON.stringify({ type: 'product', tenant: TENANT, store_id: 1, id, action: 'delete', source_version: version });
}

/** Saves of keys spread over every partition: each round appends to every partition and so rolls its segment. */
const fillers = (round: number) => Array.from({ length: 12 }, (_, i) => saveLine(`filler-${i}`, 1_000 + round, `Filler ${i} round ${round}`));

/**
 * Scenario 10 of the fault suite: a delete followed by a replayed older save, and a save older than
 * the indexed one, before and after the change topic was really compacted; then a replay of the
 * compacted topics into an empty store with new groups.
 */
export async function lateOlderSaves(name: string, report: (row: FaultRow) => void): Promise<void> {
  const started = Date.now();
  let published = 0;
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '3' });
  // AlterConfigs replaces a topic's dynamic configs: send the catalogue's own with the overrides.
  const overrides = { 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01', 'min.compaction.lag.ms': '0', 'delete.retention.ms': '100' };
  const admin = harness.kafka.admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: topicCatalogue(harness.config)
        .filter((spec) => spec.compacted)
        .map((spec) => ({ type: ConfigResourceTypes.TOPIC, name: spec.name, configEntries: Object.entries({ ...spec.configs, ...overrides }).map(([name, value]) => ({ name, value })) })),
    });
  } finally {
    await admin.disconnect();
  }
  const publish = (lines: string[]) => {
    published += lines.length;
    return harness.publishLines(lines);
  };
  try {
    await harness.start();
    const store = await harness.openStore();
    const topic = `${harness.config.topics.prefix}changes.product`;
    const serde = new RegistrySerde(new RegistryClient(harness.config.registry), { prefix: harness.config.topics.prefix });
    const versionOf = async (record: ReadRecord) => (record.value === null ? null : ((await serde.decode(topic, record.value)) as { source_version: bigint }).source_version);

    // A: the newer save, then an older one that arrives late (one producer call, so in this order).
    await publish([saveLine('anorak', 200, 'Anorak v200'), saveLine('anorak', 100, 'Anorak v100 (late)')]);
    // B: indexed, deleted, then an older save arrives late.
    await publish([saveLine('beanie', 100, 'Beanie v100')]);
    await harness.settle();
    await publish([deleteLine('beanie', 300)]);
    await harness.settle();
    await publish([saveLine('beanie', 200, 'Beanie v200 (late)')]);
    // C: a late save after the map worker restarted, so the versions come from map.state.
    await publish([saveLine('cap', 500, 'Cap v500')]);
    await harness.settle();
    await harness.stop();
    await harness.start();
    await publish([saveLine('cap', 400, 'Cap v400 (late)')]);
    await harness.settle();

    // Live, the store's own guard already kept the newest state.
    expect((await store.getDocument(key('anorak'))).head?.version).toBe(200n);
    expect((await store.getDocument(key('beanie'))).points).toEqual([]);
    expect((await store.getDocument(key('cap'))).head?.version).toBe(500n);

    // Wait until the cleaner has really compacted: one record (or, for the deleted key, at most
    // its tombstone) per key, where two to four were written.
    let compacted: ReadRecord[] = [];
    let seen = '';
    const deadline = Date.now() + 150_000;
    for (let round = 1; ; round++) {
      await publish(fillers(round));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      compacted = await readAll(harness.kafka, topic);
      const counts = ['anorak', 'beanie', 'cap'].map((id) => compacted.filter((r) => r.key === key(id)).length);
      seen = counts.join('/');
      if (counts[0] === 1 && counts[1]! <= 1 && counts[2] === 1) break;
      if (Date.now() > deadline) throw new Error(`changes.product was not compacted in time (records of anorak/beanie/cap: ${seen})`);
    }
    // What compaction kept is the newest version of each key.
    const last = (id: string) => compacted.find((r) => r.key === key(id));
    expect(await versionOf(last('anorak')!)).toBe(200n);
    expect(await versionOf(last('cap')!)).toBe(500n);
    const beanie = last('beanie');
    if (beanie) expect(beanie.value).toBeNull();
    await harness.settle();

    // Replay every topic into a fresh, empty store with new groups.
    const fresh = { lancedbPath: `${harness.config.store.lancedbPath}-replay` };
    const original = harness.config;
    await harness.stop();
    harness.config = { ...original, store: { ...original.store, ...fresh }, runner: { ...original.runner, groupPrefix: `${original.topics.prefix}replay.` } };
    try {
      await harness.start();
      await harness.settle(180_000, harness.config.runner.groupPrefix);
      const replayed = await harness.openStore(fresh);
      const anorak = await replayed.getDocument(key('anorak'));
      expect(anorak.head?.version).toBe(200n);
      expect(new Set(anorak.points.map((p) => p.payload.title))).toEqual(new Set(['Anorak v200']));
      expect((await replayed.getDocument(key('beanie'))).points).toEqual([]);
      const cap = await replayed.getDocument(key('cap'));
      expect(cap.head?.version).toBe(500n);
      expect(new Set(cap.points.map((p) => p.payload.title))).toEqual(new Set(['Cap v500']));
      expect((await replayed.getDocument(key('filler-0'))).points.length).toBeGreaterThan(0);
    } finally {
      await harness.stop();
      harness.config = original;
    }
    report({ test: name, events: published, faults: 'late older saves, a delete, forced compaction, replay', lost: 0, stale: 0, duplicates: 0, recoverySeconds: (Date.now() - started) / 1000 });
  } finally {
    await harness.close();
  }
}
