import type { Command } from 'commander';
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../config/index.js';
import { openChangeSink } from '../../producers/connect.js';
import { formatPublishSummary } from '../../producers/publish/report.js';
import { runPublish } from '../../producers/publish/run-publish.js';

interface PublishOptions {
  tenant?: string;
  dryRun?: boolean;
  json?: boolean;
  batchSize: string;
}

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
    .option('--batch-size <n>', 'records per acknowledged publish call', '500')
    .action(async (file: string, options: PublishOptions) => {
      const config = loadConfig();
      const fromStdin = file === '-';
      const input = fromStdin ? process.stdin : createReadStream(file);
      const lines = createInterface({ input, crlfDelay: Infinity });
      const sink = options.dryRun ? null : await openChangeSink(config);

      // A bar only for a file on a terminal: its size is known and nobody parses stderr.
      const showBar = !fromStdin && !options.json && process.stderr.isTTY === true;
      const bar = showBar ? await createBar(statSync(file).size) : null;
      let bytes = 0;
      async function* counted(): AsyncIterable<string> {
        for await (const line of lines) {
          bytes += Buffer.byteLength(line) + 1;
          yield line;
        }
      }
      try {
        const summary = await runPublish(counted(), {
          sink,
          dryRun: options.dryRun,
          tenant: options.tenant,
          now: Date.now(),
          storesOf: (tenant) => config.tenants[tenant]?.stores ?? [0],
          batchSize: Number(options.batchSize),
          ackTimeoutMs: config.kafka.ackTimeoutMs,
          onProgress: (p) => bar?.update(Math.min(bytes, bar.getTotal()), { published: p.published, rejected: p.rejected }),
        });
        bar?.update(bar.getTotal());
        bar?.stop();
        console.log(options.json ? JSON.stringify(summary, null, 2) : formatPublishSummary(summary));
        if (summary.rejected > 0) process.exitCode = 1;
      } finally {
        bar?.stop();
        await sink?.close();
      }
    });
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
