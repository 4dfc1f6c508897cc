import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { createKafka } from '../../kafka/client.js';
import { createVectorStore } from '../../stores/index.js';
import { STAGE_LIST } from '../../core/stages.js';
import { collectStatus, formatStatus } from '../status.js';
import { storeDescription } from '../search.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('lag of each stage, DLQ depth, and what the store holds')
    .summary('lag per stage, DLQ depth and what the store holds')
    .option('--json', 'print JSON')
    .option('--no-store', 'skip counting the store')
    .action(async (options: { json?: boolean; store: boolean }) => {
      const config = loadConfig();
      const stages = STAGE_LIST.map((s) => ({ name: s.name, group: s.group, inputs: [...s.inputs] }));
      const store = options.store ? createVectorStore(config.store) : undefined;
      try {
        await store?.connect();
        const status = await collectStatus(createKafka(config), config, stages, store);
        if (options.json) console.log(JSON.stringify(status, null, 2));
        else {
          console.log(`ragsync status (topic prefix ${config.topics.prefix}${store ? `, ${storeDescription(config)}` : ''})`);
          console.log(formatStatus(status));
        }
      } finally {
        await store?.close();
      }
    });
}
