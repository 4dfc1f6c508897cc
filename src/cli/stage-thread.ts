import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config/index.js';
import { ConfigError, describeError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { keyFilter } from '../resync/options.js';
import { ResyncPipeline } from '../resync/resync-pipeline.js';
import { Pipeline, type StageName } from './pipeline.js';
import type { FromThread, StageThreadSetup, ToThread } from './stage-threads.js';

/**
 * Stages of `ragsync run` or `ragsync resync` in a worker thread of their own (see
 * stage-threads.ts): its own Kafka clients, embedder and store, configured from the same
 * environment as the process or from the configuration it is given. It answers the
 * main thread's requests for their metrics and health, and stops gracefully when told.
 */
const port = parentPort;
if (!port) throw new Error('stage-thread.ts runs as a worker thread of `ragsync run`');
const { stages, ...setup } = workerData as { stages: StageName[] } & StageThreadSetup;

const config = setup.config ?? loadConfig();
const logger = createLogger({ level: setup.log?.level ?? config.logLevel, ...(setup.log?.stderr ? { destination: process.stderr } : {}) });
// Process-wide figures (memory, CPU, event loop of the main thread) come from the main thread's
// registry: counted here too they would be added up once per thread.
const metrics = createMetrics({ processMetrics: false, thread: stages.join(',') });
const resync = setup.resync;
const pipeline = resync
  ? new ResyncPipeline({ config, logger, metrics }, { spec: resync.spec, inScope: keyFilter(resync), everything: resync.everything })
  : new Pipeline({ config, logger, metrics });
const post = (message: FromThread) => port.postMessage(message);

let stopping: Promise<void> | undefined;
const stop = () => (stopping ??= pipeline.stop());

port.on('message', (message: ToThread) => {
  switch (message.type) {
    case 'metrics':
      void metrics.registry.getMetricsAsJSON().then(
        (data) => post({ type: 'metrics', id: message.id, data }),
        (error: unknown) => post({ type: 'metrics', id: message.id, data: [], error: describeError(error) }),
      );
      break;
    case 'health':
      post({ type: 'health', id: message.id, health: pipeline.runners.map((r) => r.health()) });
      break;
    case 'stop':
      void stop()
        .catch((error: unknown) => logger.error({ err: describeError(error), stages }, 'stopping the stages failed'))
        .finally(() => {
          post({ type: 'stopped' });
          port.close();
        });
      break;
  }
});

try {
  await pipeline.start(stages);
  post({ type: 'started', embedderNote: pipeline.embedderNote, embedderFallback: pipeline.embedderFallback });
} catch (error) {
  await stop().catch(() => undefined);
  post({ type: 'failed', message: describeError(error), configError: error instanceof ConfigError });
  port.close();
}
