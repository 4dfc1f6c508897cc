import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { kafkaAnswers } from '../../kafka/health.js';
import { createLogger } from '../../observability/logger.js';
import { openChangeSink, openRedis } from '../../producers/connect.js';
import { createWebhookServer, WEBHOOK_BASE } from '../../producers/magento/server.js';

/** `ragsync webhook serve`: the Magento RagSync ingress (docs/connectors/magento-webhook.md). */
export function registerWebhookCommand(program: Command): void {
  const webhook = program.command('webhook').description('receive change webhooks from Magento');
  webhook
    .command('serve')
    .description('serve POST /api/webhooks/magento/<tenant>/{batch,product,category,cms-page,cms-block,promotion}')
    .option('--port <port>', 'port (default: config webhook.port, 8787)')
    .option('--host <host>', 'interface to bind (default: config webhook.host, 127.0.0.1)')
    .action(async (options: { port?: string; host?: string }) => {
      const config = loadConfig({ overrides: { 'webhook.port': options.port === undefined ? undefined : Number(options.port), 'webhook.host': options.host } });
      const logger = createLogger({ level: config.logLevel, name: 'webhook' });
      const tenants = Object.keys(config.tenants);
      if (tenants.length === 0) logger.warn('no tenants configured (RAGSYNC_TENANTS): every request will get 404');
      for (const tenant of tenants) if (config.tenants[tenant]!.secrets.length === 0) logger.warn({ tenant }, 'tenant has no secret: every request will get 401');

      // Produce requests are built on a thread of their own (as `publish` does): in a CPU profile
      // of this server under load, the Kafka client took a fifth of the main thread, which also
      // parses, checks and encodes every request (docs/performance.md). A 202 still waits for
      // Kafka's acknowledgement of every record of its request.
      const sink = await openChangeSink(config, { logger, bulk: true });
      // Registers the change schemas now, so the first webhook does not pay for it; a registry
      // that is down is reported here and retried by the first publish.
      await sink.prepare().catch((error: unknown) => logger.warn({ err: error }, 'schema registry not ready; the first request will retry'));
      const redis = openRedis(config);
      let health: { at: number; ok: boolean } | undefined;
      const kafkaHealth = async () => {
        if (!health || Date.now() - health.at > 5000) health = { at: Date.now(), ok: await kafkaAnswers(config.kafka.brokers, 2000) };
        return health.ok;
      };
      const app = createWebhookServer({ config, sink, redis, logger, kafkaHealth });
      const address = await app.listen({ port: config.webhook.port, host: config.webhook.host });
      logger.info({ address, tenants }, `listening on ${address}${WEBHOOK_BASE}/<tenant>/batch`);

      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      logger.info('shutting down: finishing requests in flight');
      await app.close();
      await sink.close();
      redis.disconnect();
      logger.info('stopped');
    });
}
