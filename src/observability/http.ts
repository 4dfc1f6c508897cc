import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

/** What a worker reports about each of its stages on /readyz. */
export interface HealthSource {
  health(): { stage: string; state: string; pausedPartitions: Array<{ reason: string }>; lastError?: { class: string; message: string } };
}

/**
 * `/healthz` (the process is alive), `/readyz` (every stage runs and none is paused by a system
 * error: 503 otherwise, with the reasons), `/metrics` (Prometheus text format).
 */
export function createWorkerHttp(options: { metrics: Metrics; sources: () => HealthSource[] }): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const stages = options.sources().map((s) => s.health());
    const ready = stages.length > 0 && stages.every((s) => s.state === 'running' || (s.state === 'paused' && !s.pausedPartitions.some((p) => p.reason === 'system' || p.reason === 'dlq-rate')));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', stages });
  });
  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
  return app;
}
