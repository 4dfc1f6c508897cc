import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { ConfigError } from '../../core/errors.js';
import { withAdmin } from '../../kafka/admin.js';
import { createKafka } from '../../kafka/client.js';
import { DEFAULT_RETRY_DELAYS_MS, formatDelay, topicCatalogue } from '../../kafka/topic-catalogue.js';
import { applyTopics, formatPlan } from '../../kafka/topics.js';

/** `5m,15m,60m` / `30s` / `1500ms` / `1h` → milliseconds. */
function parseDelays(text: string): number[] {
  return text.split(',').map((part) => {
    const match = /^\s*(\d+)\s*(ms|s|m|h)\s*$/.exec(part);
    if (!match || Number(match[1]) <= 0) throw new ConfigError(`--retry-delays: "${part}" is not a delay such as 30s, 5m or 1h`);
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
    return Number(match[1]) * factor;
  });
}

const DEFAULT_DELAYS = DEFAULT_RETRY_DELAYS_MS.map(formatDelay).join(',');

export function registerTopicsCommand(program: Command): void {
  const topics = program
    .command('topics')
    .description('create and align the Kafka topics ragsync uses (the only place topics are created)')
    .summary('create and align the Kafka topics ragsync uses')
    .addHelpText(
      'after',
      `
Change topics, documents, chunks and vectors are compacted; orders, DLQ and retry topics use the
delete policy. Every name starts with RAGSYNC_TOPIC_PREFIX. The partition count of an existing
compacted topic is never changed: keys would move to other partitions and their history split.`,
    );

  topics
    .command('apply')
    .description('create missing topics and align the configs of existing ones (idempotent)')
    .option('--dry-run', 'only show what would change')
    .option('--retry-delays <list>', 'delays of the store retry topics', DEFAULT_DELAYS)
    .option('--json', 'print the plan as JSON')
    .action(async (options: { dryRun?: boolean; retryDelays: string; json?: boolean }) => {
      const config = loadConfig();
      const retryDelaysMs = parseDelays(options.retryDelays);
      const plan = await withAdmin(createKafka(config, { clientIdSuffix: 'admin' }), (admin) =>
        applyTopics(admin, config, { dryRun: options.dryRun === true, retryDelaysMs }),
      );
      if (options.json) console.log(JSON.stringify(plan, null, 2));
      else for (const line of formatPlan(plan, options.dryRun === true)) console.log(line);
      if (plan.refused.length > 0) process.exitCode = 1;
    });

  topics
    .command('list')
    .description('print the topics ragsync expects, with partitions and configs (no connection)')
    .option('--retry-delays <list>', 'delays of the store retry topics', DEFAULT_DELAYS)
    .option('--json', 'print JSON')
    .action((options: { retryDelays: string; json?: boolean }) => {
      const specs = topicCatalogue(loadConfig(), { retryDelaysMs: parseDelays(options.retryDelays) });
      if (options.json) console.log(JSON.stringify(specs, null, 2));
      else for (const s of specs) console.log(`${s.name}  partitions=${s.partitions}  ${s.configs['cleanup.policy']}`);
    });
}
