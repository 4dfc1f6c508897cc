import { Command, CommanderError } from 'commander';
import { ConfigError } from '../core/errors.js';
import { registerCatalogCommand } from './commands/catalog.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerErpCommand } from './commands/erp.js';
import { registerModelCommand } from './commands/model.js';
import { registerPublishCommand } from './commands/publish.js';
import { registerRunCommand } from './commands/run.js';
import { registerSearchCommand } from './commands/search.js';
import { registerStackCommand } from './commands/stack.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTopicsCommand } from './commands/topics.js';
import { registerWebhookCommand } from './commands/webhook.js';

/**
 * The `ragsync` command. Every sub-command is registered here explicitly: this file is the one
 * place that knows every component.
 */
export function buildProgram(): Command {
  const program = new Command('ragsync')
    .description('Keep a RAG index and storefronts in sync with catalog sources, over Apache Kafka.')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Errors are one line on stderr; `main` turns them into exit code 2.
      outputError: (text, write) => write(text.trimEnd() + '\n'),
    });
  // In the order a newcomer meets them: local services, topics, producers, workers, inspection.
  registerStackCommand(program);
  registerTopicsCommand(program);
  registerPublishCommand(program);
  registerWebhookCommand(program);
  registerCatalogCommand(program);
  registerErpCommand(program);
  registerRunCommand(program);
  registerStatusCommand(program);
  registerSearchCommand(program);
  registerModelCommand(program);
  registerDemoCommand(program);
  registerConfigCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version also arrive here, with exit code 0.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`ragsync: ${message}`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  }
}

await main(process.argv);
