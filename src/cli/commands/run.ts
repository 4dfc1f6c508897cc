import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { enabledStages } from '../../core/stages.js';
import { createWorkerHttp } from '../../observability/http.js';
import { createLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { Pipeline, STAGE_NAMES, type StageName } from '../pipeline.js';
import { StageThreads, threadGroups } from '../stage-threads.js';
import { erpBridgeOptions, runErpBridge, type ErpBridgeCliOptions } from './erp.js';
import { orderPullOptions, runOrderPull, type OrderPullCliOptions } from './orders.js';

/**
 * The stages named on the command line; a wrong name is a usage error (one line, exit 2). `all` is
 * the core stages and the push stages whose target some tenant configures.
 */
function parseStages(command: Command, values: string[], config: Config): StageName[] {
  if (values.length === 1 && values[0] === 'all') return enabledStages(config.tenants).map((s) => s.name);
  for (const alone of ['erp-bridge', 'pull-woocommerce-orders']) {
    if (values.includes(alone)) command.error(`error: ${alone} runs on its own: \`ragsync run ${alone} [options]\``, { exitCode: 2 });
  }
  const unknown = values.filter((v) => !(STAGE_NAMES as readonly string[]).includes(v));
  if (unknown.length > 0) command.error(`error: unknown stage ${unknown.join(', ')}: expected ${STAGE_NAMES.join(', ')} or all`, { exitCode: 2 });
  return [...new Set(values)] as StageName[];
}

export function registerRunCommand(program: Command): void {
  const run = program
    .command('run')
    .description('run pipeline stages (map, chunk, embed, store, the push stages, or all), each in its own consumer group')
    .summary('run pipeline stages, each in its own consumer group')
    .argument('<stages...>', `stages to run: ${STAGE_NAMES.join(', ')}, or all; or erp-bridge or pull-woocommerce-orders alone`)
    .option('--port <port>', 'port of /healthz, /readyz and /metrics (RAGSYNC_HTTP_PORT)', (v) => {
      const port = Number(v);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected a port number');
      return port;
    })
    .addHelpText(
      'after',
      `
Each stage joins the consumer group <prefix><stage> (default ragsync.map, ragsync.chunk, …) and
reads its compacted inputs from the start when the group is new. Run stages in one process
(\`run all\`) or spread them over several; scale a stage by starting more processes of it.
Several stages in one process are spread over threads, by default one per core but one (on two
cores all stages share one thread, which indexed faster there than two threads did; with more, map
gets a thread of its own and the main thread serves HTTP); RAGSYNC_STAGE_THREADS sets a number of
threads (1: all on one) or the groups (map,chunk/embed,store). /metrics and /healthz cover every
thread.
\`all\` is map, chunk, embed, store and the push stages whose target some tenant configures
(targets.shopware → push-shopware, push-shopware-price, push-shopware-stock; targets.woocommerce →
the three push-woocommerce stages; targets.webhooks → push-webhook; docs/connectors). Prices and
stock have groups of their own, so a catalog backfill never delays them.
\`run pull-woocommerce-orders\` polls each WooCommerce shop's orders in status processing modified
since its persisted watermark (Redis) every --interval seconds (or --once) and publishes them to the
\`orders\` topic, each order and modification once; --tenant limits it to one tenant. Run one replica.
SIGTERM or SIGINT finishes in-flight batches, commits and leaves the groups; another SIGTERM meanwhile
is ignored, a second SIGINT (Ctrl-C) exits at once (130).`,
    )
    .action(async (stageArgs: string[], options: { port?: number } & ErpBridgeCliOptions & OrderPullCliOptions) => {
      if (stageArgs.length === 1 && stageArgs[0] === 'erp-bridge') return runErpBridge(options);
      if (stageArgs.length === 1 && stageArgs[0] === 'pull-woocommerce-orders') return runOrderPull(options);
      const config = loadConfig({ overrides: { 'http.port': options.port } });
      const stages = parseStages(run, stageArgs, config);
      const logger = createLogger({ level: config.logLevel });
      const metrics = createMetrics();
      // Several stages: spread over threads (RAGSYNC_STAGE_THREADS), so the process uses several cores.
      const groups = threadGroups(stages, config.runner.threads);
      const threaded = groups.length > 1;
      const pipeline = threaded ? new StageThreads({ config, metrics, logger }) : new Pipeline({ config, logger, metrics });
      const http = createWorkerHttp({
        metrics,
        sources: () => (pipeline instanceof StageThreads ? pipeline.sources() : pipeline.runners),
        ...(pipeline instanceof StageThreads ? { metricsText: () => pipeline.metricsText() } : {}),
      });
      await http.listen({ port: config.http.port, host: config.http.host });
      logger.info({ url: `http://${config.http.host}:${(http.server.address() as { port: number }).port}`, threads: groups.map((g) => g.join(',')) }, 'health and metrics');

      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) {
          // A signal repeated while the stop runs (a supervisor that signals the whole process
          // group, a second SIGTERM) must not end it half-way; a second Ctrl-C does, at once.
          if (signal !== 'SIGINT') return logger.info({ signal }, 'already shutting down');
          logger.warn('second interrupt: exiting without finishing the batches in flight');
          process.exit(130);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down');
        // Stay within the session timeout: a member that takes longer is thrown out anyway.
        const deadline = setTimeout(() => {
          logger.error('shutdown took longer than the session timeout; exiting');
          process.exit(1);
        }, config.runner.sessionTimeoutMs);
        deadline.unref();
        await pipeline.stop();
        await http.close();
        process.exitCode = 0;
      };
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
      process.on('SIGINT', () => void shutdown('SIGINT'));

      try {
        if (pipeline instanceof StageThreads) await pipeline.start(groups);
        else await pipeline.start(stages);
      } catch (error) {
        // A stop during the start may end it in a failure (a thread gone before its stages ran):
        // the shutdown under way ends the process.
        if (stopping) return;
        await pipeline.stop().catch(() => undefined);
        await http.close();
        throw error;
      }
      if (stopping) return;
      if (pipeline.embedderNote) logger[pipeline.embedderFallback ? 'warn' : 'info'](pipeline.embedderNote);
    });
  // `run erp-bridge` takes the bridge's options (see `ragsync erp bridge --help`).
  erpBridgeOptions(run);
  orderPullOptions(run);
}
