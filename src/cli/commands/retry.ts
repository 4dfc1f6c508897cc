import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { enabledTerminalGroups } from '../../core/stages.js';
import { createKafka } from '../../kafka/client.js';
import { formatRetryStatus, retryStatus } from '../../kafka/retry-status.js';
import { DEFAULT_TERMINAL_GROUPS, formatDelay } from '../../kafka/topic-catalogue.js';

/**
 * `ragsync retry status`: what waits in the delayed retry topics of the terminal groups, per tier:
 * records not yet handled by the retry consumer, when the next one is due, since when the oldest
 * waiting one fails.
 */
export function registerRetryCommand(program: Command): void {
  const retry = program
    .command('retry')
    .description('the delayed retry topics <prefix><group>.retry.<delay> of the terminal groups')
    .summary('what waits in the delayed retry topics')
    .addHelpText(
      'after',
      `
Terminal groups (${DEFAULT_TERMINAL_GROUPS.join(', ')}) write to a target. A record that fails there
with a retryable error (the target is down, 5xx, 429) waits in retry tiers,
one topic per delay (RAGSYNC_RETRY_DELAYS, default 5m,15m,60m): tier 0 holds it
for the first delay, then tier 1 for the next, and after the last one it goes to
the group's DLQ (\`ragsync dlq\`). The retry consumer, group <prefix><group>.retry,
hands each record back to its stage once it is due; the target's version guard
drops one that a newer version overtook. \`dlq replay\` puts dead records of a
terminal group back into tier 0.`,
    );

  retry
    .command('status')
    .description('depth, next due time and oldest failure per group and tier')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Depth is the records the retry consumer has not committed yet (end offset minus
committed offset per partition; a partition it never committed counts whole).
The next due time and the oldest first failure are read from the record each
partition will hand over next.`,
    )
    .action(async (options: { json?: boolean }) => {
      const config = loadConfig();
      const delays = config.topics.retryDelaysMs;
      const status = await retryStatus(createKafka(config, { clientIdSuffix: 'retry' }), {
        topicPrefix: config.topics.prefix,
        groupPrefix: config.runner.groupPrefix ?? config.topics.prefix,
        retryDelaysMs: delays,
        // The store and the push stages whose target a tenant configures.
        terminalGroups: enabledTerminalGroups(config.tenants),
      });
      if (options.json) {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      console.log(`retry tiers: ${delays.map(formatDelay).join(', ')} (topic prefix ${config.topics.prefix})`);
      for (const line of formatRetryStatus(status, Date.now())) console.log(line);
    });
}
