import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { enabledDlqGroups } from '../../core/stages.js';
import { createKafka } from '../../kafka/client.js';
import { checkGroup } from '../../kafka/dlq-reader.js';
import { DlqReplayer, type ReplayReport } from '../../kafka/dlq-replay.js';
import { DashboardAuth, isLoopbackAddress } from '../../dashboard/auth.js';
import { ResyncJob } from '../../dashboard/resync-job.js';
import { createDashboardServer } from '../../dashboard/server.js';
import { Snapshots } from '../../dashboard/snapshots.js';
import { storeDescription } from '../search.js';
import { configSecrets, secretScrubber } from './dlq.js';
import { readPipelineStatus } from './status.js';

function positive(name: string, integer: boolean) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < (integer ? 0 : 1) || (integer && (!Number.isInteger(n) || n > 65535))) throw new InvalidArgumentError(`expected ${name}`);
    return n;
  };
}

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('a web page of what `status` shows, refreshed live, with charts of lag and throughput, and actions: replay dead letters, start a resync')
    .summary('a live status page: charts, DLQ replay, resync')
    .option('--port <port>', 'port to listen on (RAGSYNC_DASHBOARD_PORT, default 8790; 0 picks a free one)', positive('a port number', true))
    .option('--host <address>', 'address to listen on (default 127.0.0.1, or dashboard.host of the config file)')
    .option('--no-auth', 'no token (only on a loopback address; anyone on this machine can then use it)')
    .option('--interval <seconds>', 'seconds between two status reads', positive('a number of seconds, at least 1', false), 5)
    .option('--no-store', 'leave the store out (no document and point counts)')
    .addHelpText(
      'after',
      `
Users sign in with the token of RAGSYNC_DASHBOARD_TOKEN (at least 16 characters); scripts
may send "Authorization: Bearer <token>" to GET /api/status. Without a token the dashboard
refuses to start unless --no-auth, which is allowed only on a loopback address. It listens
on 127.0.0.1 unless --host says otherwise: put it behind a TLS proxy to reach it from
elsewhere.

The page shows the verdict, lag per stage and partition, records produced and processed
per second, the oldest unprocessed record against delete.retention.ms, dead letters by
reason, circuits, retry tiers, documents and points per tenant and type, the last event
per entity type, freshness per change class and the embedding cache hit ratio; charts
of lag and throughput since the dashboard started. Actions ask for confirmation: replay
dead letters (as \`ragsync dlq replay\`, a dry run shown first) and start a resync
(\`ragsync resync … --progress json --yes\` as a child process, its progress shown).`,
    )
    .action(async (options: { port?: number; host?: string; auth: boolean; interval: number; store: boolean }, command: Command) => {
      const config = loadConfig({ overrides: { 'dashboard.port': options.port, 'dashboard.host': options.host } });
      const { host, port, token } = config.dashboard;
      if (options.auth && token === undefined) {
        command.error('error: RAGSYNC_DASHBOARD_TOKEN is not set: set it to a secret of at least 16 characters, or pass --no-auth to run without one on a loopback address', { exitCode: 2 });
      }
      if (!options.auth && !isLoopbackAddress(host)) {
        command.error(`error: --no-auth is allowed only on a loopback address (127.0.0.1, ::1, localhost), not ${host}`, { exitCode: 2 });
      }
      const scrub = secretScrubber([...configSecrets(config), token]);
      const auth = new DashboardAuth({ token: options.auth ? token : undefined });
      const kafka = createKafka(config, { clientIdSuffix: 'dashboard' });
      const groups = enabledDlqGroups(config.tenants);
      const snapshots = new Snapshots({ read: () => readPipelineStatus(config, { store: options.store }), intervalMs: options.interval * 1000 });
      const resync = new ResyncJob({ scrub });
      const replay = async (request: { group?: string; dryRun: boolean }): Promise<ReplayReport> => {
        const replayer = new DlqReplayer(kafka, {
          topicPrefix: config.topics.prefix,
          groupPrefix: config.runner.groupPrefix ?? config.topics.prefix,
          retryDelaysMs: config.topics.retryDelaysMs,
          maxMessageBytes: config.topics.maxMessageBytes,
        });
        const report = await replayer.replay({ groups: request.group ? [checkGroup(request.group, groups)] : groups, dryRun: request.dryRun });
        return {
          ...report,
          replayed: report.replayed.map((r) => ({ ...r, key: r.key === null ? null : scrub(r.key) })),
          notReplayable: report.notReplayable.map((r) => ({ ...r, key: r.key === null ? null : scrub(r.key), why: scrub(r.why) })),
        };
      };
      const app = createDashboardServer({ auth, snapshots, resync, replay, scrub, title: scrub(`topic prefix ${config.topics.prefix}${options.store ? `, ${storeDescription(config)}` : ''}`) });
      await app.listen({ host, port });
      snapshots.start();
      const address = app.server.address() as { port: number };
      const shown = host.includes(':') ? `[${host}]` : host;
      console.log(`dashboard on http://${shown}:${address.port}/${auth.required ? ' (sign in with RAGSYNC_DASHBOARD_TOKEN)' : ' (no authentication)'}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      resync.stop();
      await snapshots.stop();
      await app.close();
    });
}
