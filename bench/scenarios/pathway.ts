import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaChangeSink } from '../../src/kafka/producer.js';
import { runPublish } from '../../src/producers/publish/run-publish.js';
import { PROJECT_ROOT } from '../../src/stack/layout.js';
import { generateEntities, type PublishLine } from '../../test/support/generate-entities.js';
import { pathwayPython } from '../peers/pathway/environment.js';
import type { Figure } from '../report/results.js';
import { BenchDeployment, caughtUp, metricSum } from '../worker.js';
import type { Scenario } from './context.js';
import { saveOf } from './saves.js';

const CORE = ['map', 'chunk', 'embed', 'store'];

interface Progress {
  docs: number;
  updated: number;
  answers: number;
}

/**
 * ragsync and Pathway (bench/peers/pathway/pipeline.py) on the same change topics, through the
 * same endpoint (hashing model): each from its process start to every document searchable, then
 * the embedding calls each makes for saves that change no text (10 % of the entities, a new price).
 */
export const pathwayScenario: Scenario = {
  name: 'pathway',
  about: 'Pathway on the same topics, documents and endpoint: time to every document searchable, embedding calls on updates',
  async run(context) {
    const count = context.quick ? 200 : 20_000;
    const updates = Math.max(1, Math.round(count / 10));
    context.say(`pathway: preparing its Python environment (PyPI, first run only)…`);
    const python = await pathwayPython(context.say);
    const deployment = new BenchDeployment(`benchpw${Date.now().toString(36)}.`, { EMBEDDER: 'openai', EMBEDDING_URL: context.endpoint.url, EMBEDDING_MODEL: 'hashing' });
    await deployment.createTopics();
    const sink = new KafkaChangeSink(deployment.kafka, deployment.config);
    const progressFile = join(deployment.dir, 'pathway-progress.json');
    const updatedFromFile = join(deployment.dir, 'pathway-updated-from');
    const publish = async (lines: PublishLine[]) => {
      async function* iterate() {
        for (const l of lines) yield JSON.stringify(l);
      }
      return runPublish(iterate(), { sink, now: Date.now(), storesOf: () => [0] });
    };
    const progress = (): Progress => {
      try {
        return JSON.parse(readFileSync(progressFile, 'utf8')) as Progress;
      } catch {
        return { docs: 0, updated: 0, answers: 0 };
      }
    };
    const worker = await deployment.start().catch((e: unknown) => {
      throw e;
    });
    let peer: ReturnType<typeof spawn> | undefined;
    let peerErr = '';
    try {
      const base = generateEntities(count, { tenant: 'bench', seed: 37 });
      const published = await publish(base);
      context.endpoint.reset();
      // ragsync from its worker's start (it started just before the publish, so it waited for none of it).
      context.say(`  ragsync: ${count} entities to searchable…`);
      const ragsyncStart = worker.startedAt;
      await worker.waitFor('ragsync: every document stored', (m) => caughtUp(m, CORE, { store: published.published }), Math.max(180_000, count * 50));
      const ragsyncSeconds = (performance.now() - ragsyncStart) / 1000;
      const ragsyncInitial = context.endpoint.clientCounts('ragsync');

      context.say(`  Pathway: ${count} entities to searchable…`);
      writeFileSync(updatedFromFile, '0');
      const peerStart = performance.now();
      peer = spawn(python, [join(PROJECT_ROOT, 'bench', 'peers', 'pathway', 'pipeline.py')], {
        env: { ...process.env, KAFKA_BROKERS: deployment.env.KAFKA_BROKERS!, TOPIC_PREFIX: deployment.prefix, SCHEMA_REGISTRY_URL: deployment.env.SCHEMA_REGISTRY_URL!, EMBEDDING_URL: context.endpoint.url, EMBEDDING_MODEL: 'hashing', PROGRESS_FILE: progressFile, UPDATED_FROM_FILE: updatedFromFile, PATHWAY_THREADS: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      peer.stderr?.on('data', (c: Buffer) => (peerErr = (peerErr + c.toString()).slice(-6000)));
      const waitPeer = async (what: string, done: (p: Progress) => boolean, timeoutMs: number) => {
        const deadline = performance.now() + timeoutMs;
        let printed = performance.now();
        while (!done(progress())) {
          if (peer!.exitCode !== null) throw new Error(`Pathway exited with ${peer!.exitCode}: ${peerErr.trim().split('\n').slice(-5).join(' | ')}`);
          if (performance.now() > deadline) throw new Error(`Pathway: ${what} not done within ${timeoutMs / 1000} s (${JSON.stringify(progress())}): ${peerErr.trim().split('\n').slice(-3).join(' | ')}`);
          if (performance.now() - printed > 10_000) {
            printed = performance.now();
            context.say(`  Pathway: ${JSON.stringify(progress())}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await waitPeer('every document searchable', (p) => p.docs >= count && p.answers > 0, Math.max(300_000, count * 100));
      const peerSeconds = (performance.now() - peerStart) / 1000;
      const peerInitial = context.endpoint.clientCounts('pathway');
      context.say(`  to searchable: ragsync ${ragsyncSeconds.toFixed(1)} s (${ragsyncInitial.calls} calls, ${ragsyncInitial.texts} texts), Pathway ${peerSeconds.toFixed(1)} s (${peerInitial.calls} calls, ${peerInitial.texts} texts)`);

      // Updates: saves that change no text (products get a new price), both running.
      context.endpoint.reset();
      const from = BigInt(Date.now()) * 1_000_000n;
      writeFileSync(updatedFromFile, from.toString());
      const changed = base.slice(0, updates).map((l) => {
        const { source_version: _v, ...save } = saveOf(l, 1);
        return save;
      });
      const before = metricSum((await worker.metrics()) ?? '', 'ragsync_records_total', { stage: 'store' });
      await publish(changed);
      await worker.waitFor('ragsync: the updates stored', (m) => caughtUp(m, CORE, { store: before + updates }), 300_000);
      await waitPeer('the updates', (p) => p.updated >= updates, 300_000);
      const ragsyncUpdate = context.endpoint.clientCounts('ragsync');
      const peerUpdate = context.endpoint.clientCounts('pathway');
      context.say(`  ${updates} saves without text changes: ragsync ${ragsyncUpdate.calls} calls (${ragsyncUpdate.texts} texts), Pathway ${peerUpdate.calls} calls (${peerUpdate.texts} texts)`);
      context.raw.pathway = { count, updates, ragsync: { seconds: ragsyncSeconds, initial: ragsyncInitial, updates: ragsyncUpdate }, pathway: { version: '0.33.0', seconds: peerSeconds, initial: peerInitial, updates: peerUpdate } };
      const figures: Figure[] = [
        { scenario: 'vs Pathway', name: `ragsync, process start to ${count.toLocaleString('en-US')} documents searchable`, value: ragsyncSeconds, unit: 's', target: { op: '<=', value: 1, ratio: true }, comparison: { name: 'Pathway', value: peerSeconds }, status: 'ok', note: `${ragsyncInitial.texts} texts in ${ragsyncInitial.calls} calls; Pathway ${peerInitial.texts} texts in ${peerInitial.calls} calls` },
        { scenario: 'vs Pathway', name: `embedding texts for ${updates.toLocaleString('en-US')} saves that change no text`, value: ragsyncUpdate.texts, unit: 'texts', target: { op: '<=', value: 1, ratio: true }, comparison: { name: 'Pathway', value: peerUpdate.texts }, status: 'ok', note: `calls: ragsync ${ragsyncUpdate.calls}, Pathway ${peerUpdate.calls}` },
      ];
      return figures;
    } finally {
      if (peer && peer.exitCode === null) {
        const exited = new Promise<void>((resolve) => peer!.once('exit', () => resolve()));
        peer.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (peer.exitCode === null) peer.kill('SIGKILL');
      }
      await worker.stop();
      await sink.close();
      await deployment.cleanup();
      if (existsSync(progressFile)) context.raw['pathway-last-progress'] = progress();
    }
  },
};
