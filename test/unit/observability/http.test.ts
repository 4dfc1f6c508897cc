import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createWorkerHttp, type HealthSource } from '../../../src/observability/http.js';
import { createMetrics } from '../../../src/observability/metrics.js';

type Health = ReturnType<HealthSource['health']>;

const stage = (name: string, state: string, pausedPartitions: Health['pausedPartitions'] = []): HealthSource => ({
  health: () => ({ stage: name, state, pausedPartitions }),
});

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function serve(sources: HealthSource[]): FastifyInstance {
  app = createWorkerHttp({ metrics: createMetrics({ defaultMetrics: false }), sources: () => sources });
  return app;
}

describe('/healthz', () => {
  it('is ok while every stage runs or is paused', async () => {
    const response = await serve([stage('map', 'running'), stage('store', 'paused', [{ reason: 'system' }])]).inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('answers 503 naming the stages whose consumer crashed', async () => {
    const response = await serve([stage('map', 'running'), stage('embed', 'crashed')]).inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'crashed', stages: [{ stage: 'embed', state: 'crashed', pausedPartitions: [] }] });
  });

  it('follows the state of its sources from one request to the next', async () => {
    let state = 'running';
    const server = serve([{ health: () => ({ stage: 'chunk', state, pausedPartitions: [] }) }]);
    expect((await server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    state = 'crashed';
    expect((await server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
  });
});

describe('/readyz', () => {
  it('is ready while every stage runs', async () => {
    const response = await serve([stage('map', 'running'), stage('chunk', 'running')]).inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ready' });
  });

  it('is not ready when a stage crashed, even if the others run', async () => {
    const response = await serve([stage('map', 'running'), stage('embed', 'crashed')]).inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: 'not ready', stages: [{ stage: 'map' }, { stage: 'embed', state: 'crashed' }] });
  });

  it('is not ready while a stage is paused by a system error', async () => {
    const response = await serve([stage('store', 'paused', [{ reason: 'system' }])]).inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
  });
});

describe('/metrics', () => {
  it('serves the registry in the Prometheus text format', async () => {
    const response = await serve([]).inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toContain('# TYPE ragsync_embedding_calls_total counter');
  });
});
