import type { Command } from 'commander';
import { accessSync, constants, createReadStream, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { loadConfig } from '../../config/index.js';
import { describeError } from '../../core/errors.js';
import { TENANT_PATTERN } from '../../core/keys.js';
import { createKafka } from '../../kafka/client.js';
import { KafkaChangeSink } from '../../kafka/producer.js';
import { formatPublishSummary } from '../../producers/publish/report.js';
import { PublishStoppedError, runPublish, type PublishSummary } from '../../producers/publish/run-publish.js';

interface PublishOptions {
  tenant?: string;
  dryRun?: boolean;
  json?: boolean;
  batchSize: string;
}

/** Exit codes of `ragsync publish` (docs/connectors/publish.md). */
export const PUBLISH_EXIT = {
  /** Every line was published (or, with --dry-run, would be). */
  ok: 0,
  /** Some lines were rejected (listed in the summary); every other line was published. */
  rejected: 1,
  /** A usage or configuration error (a missing file, a bad option): nothing was published. */
  usage: 2,
  /** Publishing failed (Kafka or the registry unavailable): the summary says from which line on nothing is known to be stored. */
  stopped: 3,
} as const;

const EXIT_HELP = `
Exit codes:
  0  every line was published (with --dry-run: would be)
  1  some lines were rejected, listed with their line numbers; every other
     line was published
  2  usage or configuration error (missing or unreadable file, bad option);
     nothing was published
  3  publishing stopped (Kafka or the schema registry failed): the lines
     before the reported one are published, from it on nothing is known to
     be; publish those again

The summary is printed in every case (with --json as JSON on stdout); it
ends with the run's time and rate, from the first line read to the last
batch acknowledged (JSON: seconds).`;

/** `ragsync publish [FILE|-]`: publish NDJSON change events (docs/connectors/publish.md). */
export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('publish change events from an NDJSON file (or - for stdin) to the change topics')
    .summary('publish change events from an NDJSON file or stdin')
    .argument('[file]', 'NDJSON file, or - for stdin', '-')
    .option('--tenant <tenant>', 'tenant for lines that carry none')
    .option('--dry-run', 'check every line and print the summary without publishing')
    .option('--json', 'print the summary as JSON')
    .option('--batch-size <n>', 'records per acknowledged publish call', '2000')
    .addHelpText('after', EXIT_HELP)
    .action(async (file: string, options: PublishOptions, command: Command) => {
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: PUBLISH_EXIT.usage, code: 'ragsync.usage' });
      const batchSize = Number(options.batchSize);
      if (!Number.isSafeInteger(batchSize) || batchSize < 1) usage(`--batch-size must be a positive integer, got "${options.batchSize}"`);
      if (options.tenant !== undefined && !TENANT_PATTERN.test(options.tenant)) usage(`--tenant must match ${TENANT_PATTERN.source}, got "${options.tenant.slice(0, 80)}"`);
      const fromStdin = file === '-';
      if (!fromStdin) {
        try {
          accessSync(file, constants.R_OK);
          if (statSync(file).isDirectory()) usage(`${file} is a directory, not an NDJSON file`);
        } catch (error) {
          if ((error as { code?: string }).code === 'ragsync.usage') throw error;
          usage(`cannot read ${file}: ${describeError(error)}`);
        }
      }
      const config = loadConfig();
      // The producer runs on a thread of its own: this one reads, checks and encodes the lines.
      const sink = options.dryRun ? null : new KafkaChangeSink(createKafka(config, { clientIdSuffix: 'producer' }), config, { producerThread: { clientIdSuffix: 'producer' } });

      // A bar only for a file on a terminal: its size is known and nobody parses stderr.
      const showBar = !fromStdin && !options.json && process.stderr.isTTY === true;
      const bar = showBar ? await createBar(statSync(file).size) : null;
      let bytes = 0;
      // Opened only now: what a stream reads before it is iterated must not be lost to the awaits above.
      const lines = readLines(fromStdin ? process.stdin : createReadStream(file), (n) => (bytes += n));
      let summary: PublishSummary;
      try {
        summary = await runPublish(lines, {
          sink,
          dryRun: options.dryRun,
          tenant: options.tenant,
          now: Date.now(),
          maxFutureSeconds: config.ingress.maxFutureSeconds,
          storesOf: (tenant) => config.tenants[tenant]?.stores ?? [0],
          batchSize,
          ackTimeoutMs: config.kafka.ackTimeoutMs,
          onProgress: (p) => bar?.update(Math.min(bytes, bar.getTotal()), { published: p.published, rejected: p.rejected }),
        });
        bar?.update(bar.getTotal());
      } catch (error) {
        // Publishing stopped: what was published, and from which line on it is not known, is still reported.
        if (!(error instanceof PublishStoppedError)) throw error;
        summary = error.summary;
      } finally {
        bar?.stop();
        await sink?.close();
      }
      console.log(options.json ? JSON.stringify(summary, null, 2) : formatPublishSummary(summary));
      process.exitCode = summary.stopped ? PUBLISH_EXIT.stopped : summary.rejected > 0 ? PUBLISH_EXIT.rejected : PUBLISH_EXIT.ok;
    });
}

/**
 * The lines of a text stream, split as node:readline splits them (`\n`, `\r\n` or a lone `\r`),
 * but cut out of each chunk directly rather than through an event per line. The pieces of a line
 * longer than a chunk are joined once, when it ends. `onBytes` is told the size of every chunk.
 */
export async function* readLines(input: NodeJS.ReadableStream, onBytes?: (bytes: number) => void): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  const carry: string[] = [];
  // The previous chunk ended with \r: a \n starting this one belongs to it.
  let skipLf = false;
  const cut = (piece: string): string => {
    if (carry.length === 0) return piece;
    carry.push(piece);
    return carry.splice(0).join('');
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    onBytes?.(chunk.length);
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    if (skipLf && text.length > 0) {
      skipLf = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    let lf = text.indexOf('\n', start);
    let cr = text.indexOf('\r', start);
    for (;;) {
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      yield cut(text.slice(start, end));
      start = end + 1;
      if (end === cr) {
        if (start === text.length) skipLf = true;
        else if (text.charCodeAt(start) === 10) start += 1;
      }
    }
    if (start < text.length) carry.push(start === 0 ? text : text.slice(start));
  }
  const tail = decoder.end();
  if (tail !== '') carry.push(tail);
  if (carry.length > 0) yield cut('');
}

async function createBar(total: number) {
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: 'publish [{bar}] {percentage}% | published {published} | rejected {rejected}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0, { published: 0, rejected: 0 });
  return bar;
}
