import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

/** What a worker reports about each of its stages on /healthz and /readyz. */
export interface HealthSource {
  health(): { stage: string; state: string; pausedPartitions: Array<{ reason: string }>; lastError?: { class: string; message: string } };
}

/**
 * `/healthz` (the process is alive: 503 with the stages whose consumer crashed and will not
 * restart, since only a process restart brings them back), `/readyz` (every stage runs and none is
 * paused by a system error: 503 otherwise, with the reasons), `/metrics` (Prometheus text format).
 */
export function createWorkerHttp(options: {
  metrics: Metrics;
  sources: () => HealthSource[];
  /** The /metrics text when it is more than this process' registry (stage threads, see src/cli/stage-threads.ts). */
  metricsText?: () => Promise<string>;
}): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_request, reply) => {
    const crashed = options
      .sources()
      .map((s) => s.health())
      .filter((s) => s.state === 'crashed');
    if (crashed.length > 0) return reply.code(503).send({ status: 'crashed', stages: crashed });
    return { status: 'ok' };
  });
  app.get('/readyz', async (_request, reply) => {
    const stages = options.sources().map((s) => s.health());
    // Only these states are ready: `crashed`, `stopped` and the rest are not.
    const ready = stages.length > 0 && stages.every((s) => s.state === 'running' || (s.state === 'paused' && !s.pausedPartitions.some((p) => p.reason === 'system' || p.reason === 'dlq-rate')));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', stages });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = options.metricsText ? await options.metricsText() : await options.metrics.registry.metrics();
    return reply.header('content-type', options.metrics.registry.contentType).send(text);
  });
  return app;
}
