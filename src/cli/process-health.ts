import type { Config } from '../config/index.js';
import type { StageState } from '../kafka/stage-runner.js';
import { createWorkerHttp } from '../observability/http.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';

export interface ProcessHealth {
  /** What /readyz reports: `running` is ready, anything else is not. */
  set(state: StageState, error?: unknown): void;
  close(): Promise<void>;
}

/**
 * `/healthz`, `/readyz` and `/metrics` for a worker that runs no stage (the ERP bridge, the order
 * poll), on the port the stage workers use (`RAGSYNC_HTTP_PORT`), so that an orchestrator probes it
 * the same way: alive while the process answers, ready while `name` says it is running.
 */
export async function serveProcessHealth(config: Config, name: string, logger: Logger): Promise<ProcessHealth> {
  let state: StageState = 'created';
  let lastError: { class: 'system'; message: string; at: string } | undefined;
  const http = createWorkerHttp({
    metrics: createMetrics(),
    sources: () => [{ health: () => ({ stage: name, group: '', state, pausedPartitions: [], ...(lastError ? { lastError } : {}) }) }],
  });
  await http.listen({ port: config.http.port, host: config.http.host });
  logger.info({ url: `http://${config.http.host}:${(http.server.address() as { port: number }).port}` }, 'health and metrics');
  return {
    set(next, error) {
      state = next;
      if (error !== undefined) lastError = { class: 'system', message: error instanceof Error ? error.message : String(error), at: new Date().toISOString() };
    },
    close: () => http.close(),
  };
}
