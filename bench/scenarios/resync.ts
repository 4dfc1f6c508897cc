import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { KafkaChangeSink } from '../../src/kafka/producer.js';
import { runPublish } from '../../src/producers/publish/run-publish.js';
import { generateEntities } from '../../test/support/generate-entities.js';
import type { Figure } from '../report/results.js';
import { BenchDeployment, caughtUp, ragsyncCommand } from '../worker.js';
import type { Scenario } from './context.js';

const CORE = ['map', 'chunk', 'embed', 'store'];

/** Runs `ragsync resync …` to its end; the seconds it took and its last progress line. */
async function resync(env: Record<string, string>, args: string[]): Promise<{ seconds: number; last: unknown; exitCode: number | null; stderr: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, ragsyncCommand('resync', ...args, '--progress', 'json', '--yes'), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = out.trim().split('\n').filter(Boolean);
  let last: unknown;
  try {
    last = JSON.parse(lines[lines.length - 1] ?? 'null');
  } catch {
    last = lines[lines.length - 1];
  }
  return { seconds: (performance.now() - started) / 1000, last, exitCode, stderr };
}

async function clearEmbeddingCache(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * A full resync into a new collection, three ways: from the change topics with the embedding cache
 * emptied (cold) and kept (warm), and from the vectors topic (no embedding at all).
 */
export const resyncScenario: Scenario = {
  name: 'resync',
  about: 'full resync into a new collection: from changes cold and warm, from vectors',
  async run(context) {
    const names = ['full resync from changes, cold embedding cache', 'full resync from changes, warm embedding cache', 'full resync from vectors'];
    // At size, the catalog of the target: a warm resync of 100,000 products within 60 s.
    const WARM_TARGET = { count: 100_000, seconds: 60 };
    const count = context.quick ? 200 : WARM_TARGET.count;
    const deployment = new BenchDeployment(`benchresync${Date.now().toString(36)}.`, { EMBEDDER: 'openai', EMBEDDING_URL: context.endpoint.url, EMBEDDING_MODEL: 'hashing' });
    await deployment.createTopics();
    const sink = new KafkaChangeSink(deployment.kafka, deployment.config);
    try {
      context.say(`resync: ${count.toLocaleString('en-US')} entities indexed first…`);
      const lines = generateEntities(count, { tenant: 'bench', seed: 31 }).map((l) => JSON.stringify(l));
      async function* iterate() {
        yield* lines;
      }
      const summary = await runPublish(iterate(), { sink, now: Date.now(), storesOf: () => [0] });
      const worker = await deployment.start();
      try {
        await worker.waitFor('the first indexing', (m) => caughtUp(m, CORE, { store: summary.published }), Math.max(180_000, count * 50));
      } finally {
        await worker.stop();
      }
      const figures: Figure[] = [];
      const raw: Record<string, unknown> = { count };
      const runs: Array<[string, string[], boolean]> = [
        [names[1]!, ['--from', 'changes', '--into', `${deployment.env.RAGSYNC_COLLECTION}_warm`], false],
        [names[2]!, ['--from', 'vectors', '--into', `${deployment.env.RAGSYNC_COLLECTION}_vectors`], false],
        [names[0]!, ['--from', 'changes', '--into', `${deployment.env.RAGSYNC_COLLECTION}_cold`], true],
      ];
      for (const [name, args, cold] of runs) {
        if (cold) await clearEmbeddingCache(deployment.config.redis.url, deployment.prefix);
        context.endpoint.reset();
        context.say(`  resync ${args.join(' ')}${cold ? ' (embedding cache emptied)' : ''}…`);
        const r = await resync(deployment.env, args);
        const counts = context.endpoint.reset().hashing;
        raw[name] = { ...r, endpoint: counts };
        context.say(`  ${name}: exit ${r.exitCode} in ${r.seconds.toFixed(1)} s, ${counts.texts} texts embedded`);
        figures.push(
          r.exitCode === 0
            ? {
                scenario: 'resync',
                name: `${name}, ${count.toLocaleString('en-US')} entities`,
                value: r.seconds,
                unit: 's',
                ...(name === names[1] && count === WARM_TARGET.count ? { target: { op: '<=' as const, value: WARM_TARGET.seconds, unit: 's' } } : {}),
                status: 'ok',
                note: `${Math.round(count / r.seconds)} documents/s; ${counts.texts} texts sent to the endpoint`,
              }
            : { scenario: 'resync', name, unit: 's', status: `failed: exit ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}` },
        );
      }
      context.raw.resync = raw;
      return figures;
    } finally {
      await sink.close();
      await deployment.cleanup();
    }
  },
};
