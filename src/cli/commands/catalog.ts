import type { Command } from 'commander';
import { hostname } from 'node:os';
import { loadConfig, type Config } from '../../config/index.js';
import { CHANGE_TYPES, type ChangeType } from '../../core/entities.js';
import { assertTenant } from '../../core/keys.js';
import { createLogger } from '../../observability/logger.js';
import { DEFAULT_CHANGE_LOG } from '../../producers/catalog/change-log.js';
import { diffCatalog } from '../../producers/catalog/diff.js';
import { readCatalogFile, type CatalogFormat } from '../../producers/catalog/read-file.js';
import { diffJson, formatDiff, formatSync, syncJson } from '../../producers/catalog/report.js';
import { CatalogState } from '../../producers/catalog/state.js';
import { syncCatalog } from '../../producers/catalog/sync.js';
import { watchCatalogFile } from '../../producers/catalog/watch.js';
import { openChangeSink, openRedis } from '../../producers/connect.js';

interface CatalogOptions {
  tenant: string;
  store: string;
  type: string;
  idField: string;
  format?: CatalogFormat;
  json?: boolean;
  force?: boolean;
  log: string | false;
  interval?: string;
}

function scopeOf(options: CatalogOptions, config: Config) {
  assertTenant(options.tenant);
  if (!(CHANGE_TYPES as readonly string[]).includes(options.type)) throw new Error(`--type must be one of ${CHANGE_TYPES.join(', ')}`);
  const storeId = Number(options.store);
  if (!Number.isSafeInteger(storeId) || storeId < 0) throw new Error(`--store must be a non-negative integer, got "${options.store}"`);
  return { tenant: options.tenant, type: options.type as ChangeType, storeId, stores: config.tenants[options.tenant]?.stores ?? [0] };
}

function common(command: Command): Command {
  return command
    .requiredOption('--tenant <tenant>', 'tenant the records belong to')
    .option('--store <id>', 'store id of the records (0 = every configured store)', '0')
    .option('--type <type>', 'change type of the records', 'product')
    .option('--id-field <field>', 'field holding the entity id', 'sku')
    .option('--format <format>', 'json, ndjson or csv (default: from the extension)')
    .option('--json', 'print JSON');
}

/** `ragsync catalog diff|sync|watch FILE` (docs/connectors/catalog-files.md). */
export function registerCatalogCommand(program: Command): void {
  const catalog = program.command('catalog').description('publish the changes of a catalog file (JSON, NDJSON or CSV)').summary('publish the changes of a catalog file');

  common(catalog.command('diff').argument('<file>').description('show what changed since the last sync, without publishing')).action(async (file: string, options: CatalogOptions) => {
    const config = loadConfig();
    const scope = scopeOf(options, config);
    const redis = openRedis(config);
    try {
      const previous = await new CatalogState(redis, scope, config.redis.keyPrefix).load();
      const diff = diffCatalog(await readCatalogFile(file, options.format), previous, { idField: options.idField });
      console.log(options.json ? JSON.stringify(diffJson(diff), null, 2) : formatDiff(diff, { file, ...scope }));
    } finally {
      redis.disconnect();
    }
  });

  const syncOptions = (command: Command) =>
    common(command)
      .option('--force', 'republish every record, changed or not')
      .option('--log <file>', 'NDJSON change log to append to', DEFAULT_CHANGE_LOG)
      .option('--no-log', 'write no change log');

  const runOnce = async (file: string, options: CatalogOptions, deps: { config: Config; redis: ReturnType<typeof openRedis>; sink: Awaited<ReturnType<typeof openChangeSink>> }) => {
    const scope = scopeOf(options, deps.config);
    const summary = await syncCatalog(await readCatalogFile(file, options.format), {
      ...scope,
      idField: options.idField,
      force: options.force,
      sink: deps.sink,
      state: new CatalogState(deps.redis, scope, deps.config.redis.keyPrefix),
      logPath: options.log === false ? null : options.log,
      ackTimeoutMs: deps.config.kafka.ackTimeoutMs,
    });
    console.log(options.json ? JSON.stringify(syncJson(summary)) : formatSync(summary));
    return summary;
  };

  syncOptions(catalog.command('sync').argument('<file>').description('publish added, modified and deleted records; state moves after Kafka acknowledged')).action(
    async (file: string, options: CatalogOptions) => {
      const config = loadConfig();
      scopeOf(options, config);
      const redis = openRedis(config);
      const sink = await openChangeSink(config, { bulk: true });
      try {
        const summary = await runOnce(file, options, { config, redis, sink });
        if (summary.rejected.length > 0) process.exitCode = 1;
      } finally {
        await sink.close();
        redis.disconnect();
      }
    },
  );

  syncOptions(catalog.command('watch').argument('<file>').description('sync now and whenever the file changes'))
    .option('--interval <seconds>', 'seconds between checks of the file', '300')
    .action(async (file: string, options: CatalogOptions) => {
      const config = loadConfig();
      scopeOf(options, config);
      const interval = Number(options.interval);
      if (!(interval > 0)) throw new Error(`--interval must be a positive number of seconds, got "${options.interval}"`);
      const logger = createLogger({ level: config.logLevel, name: `catalog-watch@${hostname()}` });
      const redis = openRedis(config);
      const sink = await openChangeSink(config, { bulk: true });
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      process.once('SIGTERM', () => controller.abort());
      let first = true;
      try {
        await watchCatalogFile(file, {
          intervalMs: interval * 1000,
          signal: controller.signal,
          // --force applies to the first sync only; later ones publish what changed.
          onChange: async () => {
            await runOnce(file, { ...options, force: first && options.force }, { config, redis, sink });
            first = false;
          },
          onError: (error) => logger.error({ err: error, file }, 'catalog sync failed; retrying at the next check'),
        });
      } finally {
        await sink.close();
        redis.disconnect();
      }
    });
}
