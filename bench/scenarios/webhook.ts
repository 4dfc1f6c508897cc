import { spawn } from 'node:child_process';
import { signBody } from '../../src/producers/magento/signature.js';
import { generateEntities } from '../../test/support/generate-entities.js';
import { percentile } from '../report/results.js';
import { BenchDeployment, freePort, ragsyncCommand } from '../worker.js';
import type { Scenario } from './context.js';

const SECRET = 'bench-webhook-secret';
const BATCH = 50;

/**
 * `ragsync webhook serve` as a child process, driven over loopback by a bounded load generator:
 * `concurrency` clients each posting signed batches of 50 items (the Magento module's batch size)
 * and waiting for the 202, which says every item is in Kafka.
 */
export const webhookScenario: Scenario = {
  name: 'webhook',
  about: 'webhook ingest: batches of 50 to the Kafka acknowledgement, events/s and p99 request time',
  async run(context) {
    const batches = context.quick ? 24 : 4_000;
    const concurrency = 8;
    const deployment = new BenchDeployment(`benchhook${Date.now().toString(36)}.`, { RAGSYNC_TENANTS: JSON.stringify({ bench: { secrets: [SECRET], stores: [1] } }) });
    await deployment.createTopics();
    const port = await freePort();
    const child = spawn(process.execPath, ragsyncCommand('webhook', 'serve', '--port', String(port)), { env: { ...process.env, ...deployment.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `http://127.0.0.1:${port}/api/webhooks/magento/bench/batch`;
    try {
      const lines = generateEntities(batches * BATCH, { tenant: 'bench', seed: 23 });
      const bodies = Array.from({ length: batches }, (_, b) =>
        JSON.stringify({ type: 'batch', batch_id: `bench-${b}`, timestamp: new Date().toISOString(), items: lines.slice(b * BATCH, (b + 1) * BATCH).map((l) => ({ type: l.type, id: l.id, action: 'save', store_id: 1, data: l.data })) }),
      );
      const post = (body: string) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': signBody(body, SECRET) } });
      // Ready once it answers; the warm-up batch is not counted.
      const deadline = Date.now() + 60_000;
      const warmup = JSON.stringify({ type: 'batch', batch_id: 'bench-warmup', timestamp: new Date().toISOString(), items: bodies.length > 0 ? (JSON.parse(bodies[0]!) as { items: unknown[] }).items.slice(0, 1) : [] });
      for (;;) {
        if (child.exitCode !== null) throw new Error(`webhook serve exited with ${child.exitCode}: ${stderr}`);
        try {
          const r = await post(warmup);
          if (r.status === 202) break;
          throw new Error(`warm-up answered ${r.status}: ${await r.text()}`);
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      context.say(`webhook: ${batches} signed batches of ${BATCH} from ${concurrency} loopback clients…`);
      const times: number[] = [];
      let accepted = 0;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < bodies.length) {
            const body = bodies[next++]!;
            const t = performance.now();
            const r = await post(body);
            const answer = (await r.json()) as { accepted?: number };
            times.push(performance.now() - t);
            if (r.status !== 202) throw new Error(`webhook answered ${r.status}: ${JSON.stringify(answer)}`);
            accepted += answer.accepted ?? 0;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const p99 = percentile(times, 99) ?? 0;
      const p50 = percentile(times, 50) ?? 0;
      context.raw.webhook = { batches, batchSize: BATCH, concurrency, accepted, seconds, eventsPerSecond: accepted / seconds, p50Ms: p50, p99Ms: p99 };
      context.say(`  webhook: ${accepted} events in ${seconds.toFixed(1)} s = ${Math.round(accepted / seconds)}/s; p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);
      return [
        { scenario: 'webhook ingest', name: `events/s, batches of ${BATCH} to the Kafka ack, ${concurrency} clients`, value: accepted / seconds, unit: '/s', target: { op: '>=', value: 25_000 }, status: 'ok' },
        { scenario: 'webhook ingest', name: 'p99 request time', value: p99, unit: 'ms', target: { op: '<=', value: 100 }, status: 'ok', note: `p50 ${p50.toFixed(0)} ms` },
      ];
    } finally {
      child.kill('SIGTERM');
      await exited;
      await deployment.cleanup();
    }
  },
};
