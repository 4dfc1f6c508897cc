import { Command, CommanderError } from 'commander';
import { ConfigError } from '../core/errors.js';
import { registerStackCommand } from './commands/stack.js';

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
  registerStackCommand(program);
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
