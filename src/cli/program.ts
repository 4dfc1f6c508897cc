import { Command, CommanderError } from 'commander';
import { ConfigError } from '../core/errors.js';
import { registerCatalogCommand } from './commands/catalog.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDashboardCommand } from './commands/dashboard.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDlqCommand } from './commands/dlq.js';
import { registerErpCommand } from './commands/erp.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerModelCommand } from './commands/model.js';
import { registerPublishCommand } from './commands/publish.js';
import { registerReconcileCommand } from './commands/reconcile.js';
import { registerResyncCommand } from './commands/resync.js';
import { registerRetryCommand } from './commands/retry.js';
import { registerRunCommand } from './commands/run.js';
import { registerSearchCommand } from './commands/search.js';
import { registerStackCommand } from './commands/stack.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTestConnectionCommand } from './commands/test-connection.js';
import { registerTopicsCommand } from './commands/topics.js';
import { registerWebhookCommand } from './commands/webhook.js';

/** Where help and usage errors go (stdout and stderr unless a caller captures them). */
export interface OutputStreams {
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

/**
 * The `ragsync` command. Every sub-command is registered here explicitly: this file is the one
 * place that knows every component.
 */
export function buildProgram(output: OutputStreams = {}): Command {
  const program = new Command('ragsync')
    .description('Keep a RAG index and storefronts in sync with catalog sources, over Apache Kafka.')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      ...output,
      // Errors are one line on stderr; `runCli` turns them into exit code 2.
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
  registerReconcileCommand(program);
  registerResyncCommand(program);
  registerDashboardCommand(program);
  registerTestConnectionCommand(program);
  registerDlqCommand(program);
  registerRetryCommand(program);
  registerSearchCommand(program);
  registerEvalCommand(program);
  registerModelCommand(program);
  registerDemoCommand(program);
  registerConfigCommand(program);
  return program;
}

/**
 * Runs the command line and returns the exit code: 0 on success (and for --help and --version),
 * 2 for a usage or configuration error, 1 for a failure while working.
 */
export async function runCli(argv: string[], output: OutputStreams = {}): Promise<number> {
  const program = buildProgram(output);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // --help and --version also arrive here, with exit code 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof Error ? error.message : String(error);
    (output.writeErr ?? ((text: string) => process.stderr.write(text)))(`ragsync: ${message}\n`);
    return error instanceof ConfigError ? 2 : 1;
  }
}
