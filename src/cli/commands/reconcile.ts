import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { parseDelays } from '../../config/load.js';
import { describeError } from '../../core/errors.js';
import { assertTenant } from '../../core/keys.js';
import { ENTITY_TYPES, isEntityType, type EntityType } from '../../core/entities.js';
import { createKafka } from '../../kafka/client.js';
import { RegistryClient } from '../../kafka/registry.js';
import { RegistrySerde } from '../../kafka/serde.js';
import { readCatalogFile, type CatalogFormat } from '../../producers/catalog/read-file.js';
import { CatalogState } from '../../producers/catalog/state.js';
import { openChangeSink, openRedis } from '../../producers/connect.js';
import { formatReport, reportJson } from '../../reconcile/format.js';
import { reconcile, type ReconcileSource } from '../../reconcile/reconcile.js';
import type { ReconcileReport } from '../../reconcile/types.js';
import { createVectorStore } from '../../stores/index.js';
import { storeDescription } from '../search.js';
import { collectStatus, declaredStages } from '../status.js';
import { configSecrets, secretScrubber } from './dlq.js';

interface ReconcileCliOptions {
  tenant?: string;
  type?: string;
  store: string;
  idField: string;
  format?: CatalogFormat;
  repair?: boolean;
  json?: boolean;
  limit: string;
  every?: string;
  shops: boolean;
}

/** A usage error: one line on stderr, exit code 2. */
const usage = (command: Command, message: string): never => command.error(`error: ${message}`, { exitCode: 2 });

/** `ragsync reconcile <source>`: the store against a source snapshot, and its repair. */
export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('compare what the store holds per tenant and type with a source (the change topics or a catalog file), and repair the drift')
    .summary('compare the store with a source, repair the drift')
    .argument('<src>', 'the source: `changes` (the compacted change topics) or a catalog file (JSON, NDJSON or CSV)')
    .option('--tenant <tenant>', 'only this tenant (required for a catalog file)')
    .option('--type <type>', `only this entity type: ${ENTITY_TYPES.join(', ')} (a catalog file: its records' type, default product)`)
    .option('--store <id>', 'catalog file: store id of its records (0 = every configured store)', '0')
    .option('--id-field <field>', 'catalog file: field holding the entity id', 'sku')
    .option('--format <format>', 'catalog file: json, ndjson or csv (default: from the extension)')
    .option('--repair', 'republish what is missing or stale, and publish a delete for each extra document')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'drifted documents listed in the table', '50')
    .option('--no-shops', "leave out the shops of the tenants' targets (Shopware, WooCommerce)")
    .option('--every <duration>', 'run again after each run, every 30m, 6h, 24h… until stopped (SIGTERM); for a Compose service')
    .addHelpText(
      'after',
      `
Compares, per tenant and entity type, the documents a source says the store
should hold with the live documents of the store (versions and text hashes,
read from the store itself), and the products each configured shop holds
(Shopware, WooCommerce: presence and product version; --no-shops skips them):
  missing  in the source, not in the store
  stale    in both, with another version, or the same version and other text
  extra    in the store, not in the source (never there, deleted, or left
           out by the filters)

\`changes\` reads every change topic to its end offsets with a reader that
commits nothing and takes each key's newest record. A catalog file is read as
\`catalog sync\` reads it; having no versions, only presence and text count.

--repair publishes to the change topics, and the pipeline applies it like any
change: a topic's newest record again at its own version (the version guard
takes an equal version), raised to the store's version only where the store
holds a newer one; a catalog file's records with versions as \`catalog sync\`
gives them; a delete event for each extra document.

Exit code: 0 in sync, 1 drift found (also with --repair: run it again once
the pipeline has no lag), 2 usage or configuration error. A failure while
reading exits 1 with a message on stderr.`,
    )
    .action(async (sourceText: string, options: ReconcileCliOptions, command: Command) => {
      const config = loadConfig();
      const limit = Number(options.limit);
      if (!Number.isSafeInteger(limit) || limit < 0) usage(command, `--limit "${options.limit}" is not a non-negative integer`);
      if (options.tenant !== undefined) {
        try {
          assertTenant(options.tenant);
        } catch (error) {
          usage(command, describeError(error));
        }
      }
      if (options.type !== undefined && !isEntityType(options.type)) usage(command, `--type must be one of ${ENTITY_TYPES.join(', ')}, got "${options.type}"`);
      const everyMs = options.every === undefined ? undefined : parseDelays('--every', options.every)[0];
      const once = () => runOnce(config, sourceText, options, command, limit);
      if (everyMs === undefined) {
        const report = await once();
        if (report.drift.length > 0) process.exitCode = 1;
        return;
      }
      await loop(once, everyMs);
    });
}

/** `--every`: a run, then a wait, until SIGTERM or SIGINT; a failed run is logged and tried again next time. */
async function loop(once: () => Promise<ReconcileReport>, everyMs: number): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    while (!controller.signal.aborted) {
      try {
        await once();
      } catch (error) {
        console.error(`ragsync reconcile: ${describeError(error)}; next run in ${everyMs / 1000} s`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everyMs);
        controller.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

async function sourceOf(sourceText: string, options: ReconcileCliOptions, config: Config, command: Command): Promise<ReconcileSource> {
  if (sourceText === 'changes') return { kind: 'changes' };
  if (options.tenant === undefined) usage(command, 'a catalog file needs --tenant');
  const storeId = Number(options.store);
  if (!Number.isSafeInteger(storeId) || storeId < 0) usage(command, `--store must be a non-negative integer, got "${options.store}"`);
  const tenant = options.tenant!;
  const type = (options.type ?? 'product') as EntityType;
  return { kind: 'catalog', file: sourceText, records: await readCatalogFile(sourceText, options.format), tenant, type, storeId, stores: config.tenants[tenant]?.stores ?? [0], idField: options.idField };
}

/** Progress of long reads on stderr: rewritten in place on a terminal, a line every few seconds otherwise. */
function progress(): (phase: string, done: number, total: number) => void {
  const tty = process.stderr.isTTY === true;
  const shown = new Map<string, number>();
  const words: Record<string, string> = { source: 'reading the source', store: 'reading the store', shops: 'reading the shops', repair: 'publishing the repair' };
  return (phase, done, total) => {
    // Short reads finish before anyone looks.
    if (total < 1000) return;
    const last = shown.get(phase) ?? 0;
    const now = Date.now();
    if (done < total && now - last < (tty ? 200 : 5000)) return;
    shown.set(phase, now);
    const line = `${words[phase] ?? phase}: ${done}/${total}`;
    process.stderr.write(tty ? `\r${line}${done >= total ? '\n' : ''}` : `${line}\n`);
  };
}

/** The pipeline's lag at the time of the comparison: drift of records in flight is not drift. */
async function lagNotes(kafka: ReturnType<typeof createKafka>, config: Config): Promise<string[]> {
  try {
    const status = await collectStatus(kafka, config, declaredStages(config).filter((s) => ['map', 'chunk', 'embed', 'store'].includes(s.name)));
    const behind = status.stages.filter((s) => s.lag > 0).map((s) => `${s.stage} ${s.lag}`);
    return behind.length === 0 ? [] : [`the pipeline has lag (${behind.join(', ')}): part of the drift may be changes still on their way`];
  } catch (error) {
    return [`the pipeline's lag could not be read: ${describeError(error)}`];
  }
}

async function runOnce(config: Config, sourceText: string, options: ReconcileCliOptions, command: Command, limit: number): Promise<ReconcileReport> {
  const source = await sourceOf(sourceText, options, config, command);
  const scrub = secretScrubber(configSecrets(config));
  const kafka = createKafka(config, { clientIdSuffix: 'reconcile' });
  const store = createVectorStore(config.store);
  const withShops = options.shops && Object.values(config.tenants).some((t) => t.targets.shopware !== undefined || t.targets.woocommerce !== undefined);
  // The catalog state, and WooCommerce's key ↔ id mapping, live in Redis.
  const redis = (options.repair && source.kind === 'catalog') || withShops ? openRedis(config) : undefined;
  let serde: RegistrySerde | undefined;
  let sink: Awaited<ReturnType<typeof openChangeSink>> | undefined;
  try {
    await store.connect();
    if (options.repair) sink = await openChangeSink(config);
    const report = await reconcile(
      {
        kafka,
        config,
        store,
        target: scrub(storeDescription(config)),
        decode: (topic, bytes) => (serde ??= new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix })).decode(topic, bytes),
        ...(sink ? { sink } : {}),
        ...(redis && source.kind === 'catalog' ? { catalogState: new CatalogState(redis, { tenant: source.tenant, type: source.type, storeId: source.storeId }, config.redis.keyPrefix) } : {}),
        ...(withShops ? { shops: { ...(redis ? { redis } : {}) } } : {}),
        notes: () => lagNotes(kafka, config),
        onProgress: progress(),
      },
      { source, ...(options.tenant ? { tenant: options.tenant } : {}), ...(options.type ? { entityType: options.type as EntityType } : {}), repair: options.repair === true },
    );
    console.log(options.json ? reportJson(report) : formatReport(report, limit));
    return report;
  } finally {
    await sink?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    redis?.disconnect();
  }
}
