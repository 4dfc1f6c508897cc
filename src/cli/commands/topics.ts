import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { parseDelays } from '../../config/load.js';
import { withAdmin } from '../../kafka/admin.js';
import { createKafka } from '../../kafka/client.js';
import { topicCatalogue } from '../../kafka/topic-catalogue.js';
import { applyTopics, formatPlan } from '../../kafka/topics.js';

const parseDelayOption = (text: string | undefined, config: Config): number[] => (text === undefined ? config.topics.retryDelaysMs : parseDelays('--retry-delays', text));

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
    .option('--retry-delays <list>', 'delays of the retry topics of terminal groups (default: RAGSYNC_RETRY_DELAYS, else 5m,15m,60m)')
    .option('--json', 'print the plan as JSON')
    .action(async (options: { dryRun?: boolean; retryDelays?: string; json?: boolean }) => {
      const config = loadConfig();
      const retryDelaysMs = parseDelayOption(options.retryDelays, config);
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
    .option('--retry-delays <list>', 'delays of the retry topics of terminal groups (default: RAGSYNC_RETRY_DELAYS, else 5m,15m,60m)')
    .option('--json', 'print JSON')
    .action((options: { retryDelays?: string; json?: boolean }) => {
      const config = loadConfig();
      const specs = topicCatalogue(config, { retryDelaysMs: parseDelayOption(options.retryDelays, config) });
      if (options.json) console.log(JSON.stringify(specs, null, 2));
      else for (const s of specs) console.log(`${s.name}  partitions=${s.partitions}  ${s.configs['cleanup.policy']}`);
    });
}
