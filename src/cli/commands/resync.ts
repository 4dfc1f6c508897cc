import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { createLogger } from '../../observability/logger.js';
import { checkOptions, RESYNC_FROM, ResyncUsageError } from '../../resync/options.js';
import { BarProgress, JsonLinesProgress, type ProgressSink } from '../../resync/progress.js';
import { abandonResync, describeOptions, ResyncStoppedError, runResync } from '../../resync/resync.js';
import { ResyncLockedError } from '../../resync/lock.js';

interface ResyncCliOptions {
  tenant?: string;
  types?: string;
  from?: string;
  into?: string;
  progress: 'bar' | 'json';
  yes?: boolean;
  abandon?: boolean;
}

const HELP = `
What it does (docs/resync.md):
  1. replays the compacted topics in fresh consumer groups, one per stage, named
     <group prefix>resync-<UTC time>-<hex>.<group> (e.g. ragsync.resync-20261203t140512-9f3a.store):
       --from changes    map → chunk → embed → store (the embedding cache spares unchanged chunks)
       --from documents  chunk → embed → store
       --from vectors    store only, from the vectors topic: no embedding call at all (the default)
     The first stage reads its topics from the beginning; each later stage reads only what the
     replay writes (the topic before it from its end when the resync began), so the rebuilt
     collection comes from the sources alone and no document is written twice.
     Each stage's group is done when it has committed past the end offsets its inputs had when the
     stage before it was done. Live workers go on meanwhile: the store's version guard keeps the
     newest version of every document, whichever group writes it.
  2. with --into NEW: fills the new collection (Qdrant) or table (LanceDB), then switches what the
     configured collection name (RAGSYNC_COLLECTION) stands for to it, atomically: a Qdrant alias
     (with <name>_heads), or for LanceDB the pointer file ragsync-aliases.json in LANCEDB_PATH that
     every store re-reads within a second. Searches and live store workers follow without a
     restart. The replay group then keeps reading until it has passed the end offsets taken after
     the switch, so whatever live workers wrote to the old collection meanwhile is in the new one.
     A Qdrant collection made before aliases (a real collection named like the alias) is deleted
     at its first switch and the alias created right after; see docs/resync.md.
  3. sweep: documents of the store whose keys no source topic holds any more (their delete never
     reached the store) are deleted; with --tenant/--types only that tenant's / those types'.
     A document written by live traffic during the resync is never swept.
  4. cleanup: the consumer groups of every finished resync are deleted, and delete markers older
     than the topics' delete.retention.ms (and the retry tiers) are purged from the store.

--tenant and --types limit what is replayed (other records are read and skipped) and what may be
swept; they cannot be combined with --into (a new collection replaces the whole old one).

Progress: a bar with rate and ETA on stderr, or with --progress json one JSON object per line on
stdout and nothing else there:
  {"phase":"replay","done":1200,"total":5000,"rate":350.2,"etaSeconds":11,"stage":"store"}
phase is prepare, replay, switch, catch-up, sweep, cleanup, then done (with "summary"), or stopped
or failed (with "message"); done and total count records (keys in the sweep) of the phase.

One resync per collection runs at a time (a lock in Redis). Ctrl-C stops at the next safe point
(never inside the switch) and says how to go on: the same command again resumes (the groups keep
their offsets); --abandon deletes the unfinished resync's groups. Exit codes: 0 done, 1 failed,
2 refused or bad usage, 130 stopped.`;

export function registerResyncCommand(program: Command): void {
  const command = program
    .command('resync')
    .summary('rebuild the index by replaying the topics')
    .description('rebuild the index by replaying the compacted topics in fresh consumer groups, sweep orphans, optionally into a new collection behind an alias')
    .option('--tenant <tenant>', 'only this tenant is replayed and swept')
    .option('--types <types>', 'only these entity types (comma-separated: product,category,cms_page,cms_block,promotion)')
    .option('--from <source>', `where the replay starts: ${RESYNC_FROM.join(', ')}`, 'vectors')
    .option('--into <collection>', 'fill this new collection, then switch RAGSYNC_COLLECTION to stand for it')
    .option(
      '--progress <kind>',
      'bar (stderr) or json (one object per line on stdout)',
      (value: string) => {
        if (value !== 'bar' && value !== 'json') throw new InvalidArgumentError('expected bar or json');
        return value;
      },
      'bar',
    )
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--abandon', 'delete the consumer groups and state of an unfinished resync, and nothing else')
    .addHelpText('after', HELP)
    .action(async (cli: ResyncCliOptions) => {
      const config = loadConfig();
      if (cli.abandon) {
        const result = await abandonResync(config);
        process.stdout.write(
          `${result.id ? `abandoned ${result.id}` : 'no unfinished resync'}; ${result.groupsDeleted.length} resync consumer groups deleted` +
            (result.into ? `; the collection "${result.into}" was left as it is` : '') +
            '\n',
        );
        return;
      }
      let options;
      try {
        options = checkOptions(cli, config.store.collection);
      } catch (error) {
        if (error instanceof ResyncUsageError) command.error(`error: ${error.message}`, { exitCode: 2 });
        throw error;
      }
      if (!cli.yes) {
        if (!process.stdin.isTTY) command.error('error: resync changes the index: add --yes to run it without a terminal to confirm on', { exitCode: 2 });
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Resync "${config.store.collection}" (${describeOptions(options)})? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          process.stderr.write('nothing done\n');
          return;
        }
      }
      const progress: ProgressSink = cli.progress === 'json' ? new JsonLinesProgress() : new BarProgress();
      // Logs go to stderr: with --progress json stdout carries the progress lines only.
      const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = () => {
        interrupts += 1;
        if (interrupts > 1) process.exit(130);
        process.stderr.write('stopping at the next safe point (Ctrl-C again to quit at once)…\n');
        controller.abort(new Error('interrupted'));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const result = await runResync(options, { config, logger, progress, signal: controller.signal });
        progress.update({
          phase: 'done',
          done: result.replayed,
          total: result.replayed,
          rate: 0,
          etaSeconds: 0,
          message: `resync ${result.id} done: ${result.replayed} records replayed into "${result.target}"` + (result.switched ? `, "${result.switched.alias}" now stands for "${result.switched.now}"` : '') + `, ${result.swept.length} swept`,
          summary: { ...result, swept: result.swept.length, sweptKeys: result.swept.slice(0, 100) },
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof ResyncStoppedError && controller.signal.aborted) {
          progress.update({ phase: 'stopped', done: 0, total: 0, rate: 0, etaSeconds: null, message });
          progress.close();
          process.stderr.write(`${message}\n`);
          process.exitCode = 130;
          return;
        }
        progress.update({ phase: 'failed', done: 0, total: 0, rate: 0, etaSeconds: null, message });
        progress.close();
        if (error instanceof ResyncUsageError || error instanceof ResyncLockedError) command.error(`error: ${message}`, { exitCode: 2 });
        throw error;
      } finally {
        progress.close();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
