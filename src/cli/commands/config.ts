import type { Command } from 'commander';
import { loadConfig, redactConfig } from '../../config/index.js';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('print the resolved configuration (file and environment), secrets masked')
    .summary('print the resolved configuration, secrets masked')
    .action(() => {
      console.log(JSON.stringify(redactConfig(loadConfig()), null, 2));
    });
}
