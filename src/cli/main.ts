import { ProducerThread } from '../kafka/producer-thread.js';

// `ragsync … | head` closes stdout early: that is the reader's choice, not a failure to report.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

/**
 * Commands that produce in bulk run their Kafka producer on a thread of its own (ProducerThread),
 * whose client takes most of a second to load. Started here, before the CLI's own modules are
 * loaded, it loads meanwhile, and the command's first records find it ready. A guess from the
 * arguments only: a thread the command does not take over ends with the process.
 */
function producesInBulk(args: readonly string[]): boolean {
  if (args.some((arg) => arg === '--help' || arg === '-h' || arg === '--dry-run')) return false;
  return args[0] === 'publish' || (args[0] === 'catalog' && (args[1] === 'sync' || args[1] === 'watch'));
}

if (producesInBulk(process.argv.slice(2))) ProducerThread.prestart();

const { runCli } = await import('./program.js');
process.exitCode = await runCli(process.argv);
