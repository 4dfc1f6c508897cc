import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { createCoordinationRedis, withDeadline } from '../../coordination/redis.js';
import { kafkaAnswers } from '../../kafka/health.js';
import { targetChecks } from '../../sinks/targets.js';
import { createVectorStore } from '../../stores/index.js';

interface Check {
  id: string;
  check: () => Promise<string>;
}

const TIMEOUT_MS = 15_000;

async function deadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line: the message of the error and of its causes, without stack or secrets (errors never carry them). */
function oneLine(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error && parts.length < 3) {
    if (!parts.some((p) => p.includes(current instanceof Error ? current.message : ''))) parts.push(current.message);
    current = current.cause;
  }
  return (parts.length > 0 ? parts.join(': ') : String(error)).replace(/\s+/g, ' ');
}

/** The infrastructure ragsync itself needs: Kafka, the schema registry, Redis, the vector store. */
function infrastructureChecks(config: Config): Check[] {
  return [
    {
      id: 'kafka',
      check: async () => {
        if (!(await kafkaAnswers(config.kafka.brokers, 5000))) throw new Error(`no broker of ${config.kafka.brokers.join(',')} answered within 5 s`);
        return `brokers ${config.kafka.brokers.join(',')} answer`;
      },
    },
    {
      id: 'registry',
      check: async () => {
        const url = `${config.registry.url.replace(/\/+$/, '')}/subjects`;
        const auth = config.registry.username ? { authorization: `Basic ${Buffer.from(`${config.registry.username}:${config.registry.password ?? ''}`).toString('base64')}` } : undefined;
        const response = await fetch(url, { signal: AbortSignal.timeout(5000), ...(auth ? { headers: auth } : {}) });
        if (!response.ok) throw new Error(`${config.registry.url} answered ${response.status} to GET /subjects`);
        const subjects = (await response.json()) as unknown[];
        return `${config.registry.url}: ${subjects.length} subjects`;
      },
    },
    {
      id: 'redis',
      check: async () => {
        const redis = createCoordinationRedis(config.redis.url);
        try {
          const pong = await withDeadline(redis.ping(), 5000, 'redis PING');
          return `${config.redis.url.replace(/\/\/([^@/]*)@/, '//***@')}: ${pong}`;
        } finally {
          redis.disconnect();
        }
      },
    },
    {
      id: 'store',
      check: async () => {
        const store = createVectorStore(config.store);
        try {
          await store.connect();
          const points = await store.countPoints().catch(() => undefined);
          const where = config.store.qdrantUrl ? `qdrant ${new URL(config.store.qdrantUrl).host}` : `lancedb ${config.store.lancedbPath}`;
          return points === undefined ? `${where}: reachable, collection ${config.store.collection} not created yet` : `${where}/${config.store.collection}: ${points} points`;
        } finally {
          await store.close();
        }
      },
    },
  ];
}

/** `ragsync test-connection [targets...]`: checks each target and prints one line per target. */
export function registerTestConnectionCommand(program: Command): void {
  program
    .command('test-connection')
    .description('check that each target and source answers with the configured credentials, one line per target')
    .summary('check that each target answers with its credentials')
    .argument('[what...]', 'what to check: kafka, registry, redis, store, a tenant (all its targets), a kind (shopware, woocommerce, webhook) or <tenant>/<kind>[/<name>]; default: everything configured')
    .addHelpText(
      'after',
      `
Targets come from the tenant config (RAGSYNC_TENANTS or the config file, "targets" of each tenant;
docs/connectors). Each check makes one cheap authorized call (a Shopware token and a product
search, a WooCommerce product list, a signed GET of a Magento-format receiver's status route, or a
HEAD for other receivers) and prints
  ok    <target>  <what answered>
  FAIL  <target>  <the cause in one line>
Exit code 1 when any check fails, 2 when a named target is not configured. Credentials are never
printed.`,
    )
    .action(async (names: string[]) => {
      const config = loadConfig();
      const targets = targetChecks(config.tenants);
      const all: (Check & { tags: string[] })[] = [
        ...infrastructureChecks(config).map((c) => ({ ...c, tags: [c.id] })),
        ...targets.map((t) => ({ id: t.id, check: t.check, tags: [t.id, t.tenant, t.kind === 'webhooks' ? 'webhook' : t.kind, `${t.tenant}/${t.kind === 'webhooks' ? 'webhook' : t.kind}`] })),
      ];
      const selected = names.length === 0 ? all : all.filter((c) => names.some((n) => c.tags.includes(n)));
      const unknown = names.filter((n) => !all.some((c) => c.tags.includes(n)));
      if (unknown.length > 0) {
        const known = all.map((c) => c.id).join(', ');
        console.error(`error: not configured: ${unknown.join(', ')} (configured: ${known})`);
        process.exitCode = 2;
        return;
      }
      const width = Math.max(...selected.map((c) => c.id.length));
      let failures = 0;
      for (const { id, check } of selected) {
        try {
          const summary = await deadline(check(), TIMEOUT_MS);
          console.log(`ok    ${id.padEnd(width)}  ${summary}`);
        } catch (error) {
          failures += 1;
          console.log(`FAIL  ${id.padEnd(width)}  ${oneLine(error)}`);
        }
      }
      if (failures > 0) process.exitCode = 1;
    });
}
