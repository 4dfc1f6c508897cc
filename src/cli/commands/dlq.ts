import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { describeError } from '../../core/errors.js';
import { enabledDlqGroups } from '../../core/stages.js';
import { createIdempotentProducer, createKafka } from '../../kafka/client.js';
import { DlqMarks, type DlqMark } from '../../kafka/dlq-marks.js';
import { DlqNotFoundError, DlqReader, DlqUsageError, parseDlqRef, checkGroup, type DeadRecord, type DlqGroupSummary, type PurgePlan, type PurgeResult } from '../../kafka/dlq-reader.js';
import { DlqReplayer, parseReplayFilters, type ReplayProgress, type ReplayReport } from '../../kafka/dlq-replay.js';
import { DEFAULT_TERMINAL_GROUPS } from '../../kafka/topic-catalogue.js';
import { RegistryClient } from '../../kafka/registry.js';
import { RegistrySerde } from '../../kafka/serde.js';

/**
 * `ragsync dlq list|show|replay|purge`: what the dead-letter topics hold that is still to handle,
 * by error code; one record in full; sending records back through their stage; deleting the
 * records older than a time. Output is for people, `--json` for scripts. Nothing
 * secret is printed: header and field names that look like credentials are masked, and so is every
 * secret of the configuration wherever it appears (an error message may quote a URL or a key).
 */

/** Header or field names whose values are credentials. */
const SECRET_NAME = /secret|passw|token|authori[sz]ation|api[-_]?key|signature|cookie|credential/i;
const REDACTED = '[redacted]';

/** A function that masks every configured secret and any user:password in a URL. */
export function secretScrubber(secrets: readonly (string | undefined)[]): (text: string) => string {
  const known = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(/\/\/[^/\s:@]+:[^/\s@]+@/g, '//***@');
    for (const secret of known) out = out.split(secret).join('***');
    return out;
  };
}

export function configSecrets(config: Config): string[] {
  let redisPassword: string | undefined;
  try {
    redisPassword = decodeURIComponent(new URL(config.redis.url).password) || undefined;
  } catch {
    redisPassword = undefined;
  }
  return [
    config.kafka.sasl?.password,
    config.registry.password,
    config.embedder.apiKey,
    config.store.qdrantApiKey,
    redisPassword,
    ...Object.values(config.tenants).flatMap((t) => t.secrets),
  ].filter((s): s is string => typeof s === 'string');
}

/**
 * A value made printable as JSON: bigints as strings, bytes as their length (vectors are bytes),
 * credential-named fields masked, strings scrubbed.
 */
export function printable(value: unknown, scrub: (text: string) => string): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return scrub(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (Array.isArray(value)) return value.map((v) => printable(v, scrub));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_NAME.test(k) && v !== null ? REDACTED : printable(v, scrub)]));
  }
  return value;
}

export function printableHeaders(headers: Record<string, string>, scrub: (text: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, SECRET_NAME.test(k) ? REDACTED : scrub(v)]));
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function formatSummaries(summaries: DlqGroupSummary[], scrub: (text: string) => string): string[] {
  const lines: string[] = [];
  const width = Math.max(...summaries.map((s) => s.group.length));
  const topicWidth = Math.max(...summaries.map((s) => s.topic.length));
  for (const s of summaries) {
    const head = `${s.group.padEnd(width)}  ${s.topic.padEnd(topicWidth)}`;
    if (!s.exists) {
      lines.push(`${head}  no such topic (run \`ragsync topics apply\`)`);
      continue;
    }
    const handled = [s.replayed > 0 ? `${s.replayed} replayed` : '', s.purged > 0 ? `${s.purged} purged` : ''].filter((x) => x !== '');
    const aside = handled.length > 0 ? ` (${handled.join(', ')})` : '';
    if (s.pending === 0) {
      lines.push(`${head}  ${s.records === 0 && handled.length === 0 ? 'empty' : `nothing to handle${aside}`}`);
      continue;
    }
    lines.push(`${head}  ${s.pending} to handle${aside}, dead-lettered ${s.oldest} … ${s.newest}`);
    const codeWidth = Math.max(...s.byCode.map((c) => c.code.length));
    for (const c of s.byCode) {
      const stages = c.stages.length > 0 ? ` [${c.stages.join(', ')}]` : '';
      lines.push(`  ${String(c.count).padStart(7)}  ${c.errorClass.padEnd(9)}  ${c.code.padEnd(codeWidth)}${stages}  last ${c.lastRef}: ${clip(scrub(c.lastMessage), 100)}`);
    }
    lines.push('  newest:');
    const refWidth = Math.max(...s.samples.map((x) => x.ref.length));
    const sampleCodeWidth = Math.max(...s.samples.map((x) => x.code.length));
    for (const x of s.samples) lines.push(`    ${x.ref.padEnd(refWidth)}  ${x.at}  ${x.code.padEnd(sampleCodeWidth)}  key ${x.key === null ? '(none)' : clip(scrub(x.key), 80)}`);
  }
  return lines;
}

export interface ValueView {
  encoding: 'none' | 'avro' | 'json' | 'text' | 'bytes';
  schemaId?: number;
  value?: unknown;
  bytes?: number;
  note?: string;
}

/** The record's value decoded: through the registry when it is in the Confluent wire format, else as JSON, text or a byte count. */
export async function decodeValue(record: DeadRecord, serde: () => RegistrySerde): Promise<ValueView> {
  const bytes = record.value;
  if (!bytes || bytes.length === 0) return { encoding: 'none', note: 'no value: the record was a delete, or too large to copy into the DLQ (headers only)' };
  let note: string | undefined;
  if (bytes.length >= 5 && bytes[0] === 0) {
    try {
      const value = await serde().decode(record.original?.topic ?? record.topic, bytes);
      return { encoding: 'avro', schemaId: bytes.readInt32BE(1), value };
    } catch (error) {
      note = `not decodable as Avro: ${describeError(error)}`;
    }
  }
  const text = bytes.toString('utf8');
  // Text: valid UTF-8 (it re-encodes to the same bytes) without control characters other than whitespace.
  const isText = Buffer.from(text, 'utf8').equals(bytes) && ![...text].some((c) => c.charCodeAt(0) < 9 || (c.charCodeAt(0) > 13 && c.charCodeAt(0) < 32));
  if (isText) {
    try {
      return { encoding: 'json', value: JSON.parse(text), ...(note ? { note } : {}) };
    } catch {
      return { encoding: 'text', value: text, ...(note ? { note } : {}) };
    }
  }
  return { encoding: 'bytes', bytes: bytes.length, ...(note ? { note } : {}) };
}

/** The record as `--json` prints it (and the text output shows), secrets masked; `replayed` from its mark. */
export function recordView(record: DeadRecord, value: ValueView, scrub: (text: string) => string, replayed?: DlqMark) {
  return {
    ref: record.ref,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    deadLetteredAt: new Date(record.timestamp).toISOString(),
    key: record.key === null ? null : scrub(record.key),
    stage: record.stage ?? null,
    error: { class: record.errorClass ?? null, code: record.errorCode, message: record.errorMessage === undefined ? null : scrub(record.errorMessage) },
    attempt: record.attempt ?? null,
    firstFailureAt: record.firstFailureAt ?? null,
    original: record.original ?? null,
    replayed: replayed ? { at: replayed.at, to: replayed.to ?? null } : null,
    headers: printableHeaders(record.headers, scrub),
    value: { ...value, ...(value.value !== undefined ? { value: printable(value.value, scrub) } : {}) } as ValueView,
  };
}

export function formatRecord(view: ReturnType<typeof recordView>): string[] {
  const o = view.original;
  const lines = [
    `${view.ref}  (${view.topic} partition ${view.partition} offset ${view.offset})`,
    `dead-lettered  ${view.deadLetteredAt}`,
    `key            ${view.key ?? '(none)'}`,
    `stage          ${view.stage ?? '-'}`,
    `error          ${view.error.class ?? '?'} ${view.error.code}: ${view.error.message ?? ''}`,
    `attempts       ${view.attempt ?? '-'}`,
    `first failure  ${view.firstFailureAt ?? '-'}`,
    `input          ${o ? `${o.topic} partition ${o.partition} offset ${o.offset}` : '-'}`,
    `replayed       ${formatReplayed(view.replayed)}`,
    'headers',
    ...Object.entries(view.headers).map(([k, v]) => `  ${k}: ${v}`),
  ];
  const v = view.value;
  const what = v.encoding === 'avro' ? `Avro, schema id ${v.schemaId}` : v.encoding === 'bytes' ? `${v.bytes} bytes, not text` : v.encoding;
  lines.push(`value (${what})`);
  if (v.note) lines.push(`  ${v.note}`);
  if (v.value !== undefined) lines.push(...JSON.stringify(v.value, null, 2).split('\n').map((l) => `  ${l}`));
  return lines;
}

function formatReplayed(replayed: ReturnType<typeof recordView>['replayed']): string {
  if (!replayed) return 'no';
  const to = replayed.to;
  if (!to) return replayed.at;
  const how = to.via === 'retry' ? 'its first retry tier' : "the key's current input";
  return `${replayed.at} through ${how}, to ${to.topic} partition ${to.partition} offset ${to.offset}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What `dlq replay` did (or would do on a dry run): per group and code, what was skipped and why. */
export function formatReplay(report: ReplayReport, scrub: (text: string) => string): string[] {
  const lines: string[] = [];
  const verb = report.dryRun ? 'would replay' : 'replayed';
  if (report.dryRun) {
    for (const r of report.replayed) {
      const source = r.source ? ` (current input: ${r.source.topic} partition ${r.source.partition} offset ${r.source.offset}${r.source.tombstone ? ', a delete' : ''})` : '';
      const path = r.path === 'retry' ? 'through its first retry tier' : `from the key's current input${source}`;
      lines.push(`${r.ref}  ${r.code}  key ${r.key === null ? '(none)' : clip(scrub(r.key), 80)}: ${verb} ${path}`);
    }
  } else {
    for (const r of report.replayed.filter((x) => x.note)) lines.push(`${r.ref}  ${r.note}`);
  }
  for (const r of report.notReplayable) lines.push(`${r.ref}  ${r.code}  key ${r.key === null ? '(none)' : clip(scrub(r.key), 80)}: not replayable: ${r.why}`);
  if (lines.length > 0) lines.push('');
  for (const g of report.groups) {
    if (!g.exists) {
      lines.push(`${g.group}: ${g.topic} does not exist (run \`ragsync topics apply\`)`);
      continue;
    }
    const codes = Object.entries(g.byCode)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([code, n]) => `${n} ${code}`);
    const skipped = [
      g.skipped.alreadyReplayed > 0 ? `${g.skipped.alreadyReplayed} replayed before (--again to replay them once more)` : '',
      g.skipped.filtered > 0 ? `${g.skipped.filtered} left out by --filter` : '',
      g.skipped.notReplayable > 0 ? `${g.skipped.notReplayable} not replayable` : '',
    ].filter((x) => x !== '');
    lines.push(`${g.group}: ${verb} ${plural(g.replayed, 'record')}${codes.length > 0 ? ` (${codes.join(', ')})` : ''}${skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : ''}`);
  }
  if (report.dryRun) lines.push('dry run: nothing was produced and nothing marked');
  return lines;
}

export function formatPurge(plan: PurgePlan, result?: PurgeResult): string[] {
  const lines = [`${plan.topic}: records dead-lettered before ${plan.before}`];
  for (const p of plan.partitions) {
    const last = BigInt(p.cut) - 1n;
    lines.push(p.records > 0 ? `  partition ${p.partition}: offsets ${p.low} to ${last} (${p.records} record${p.records === 1 ? '' : 's'})` : `  partition ${p.partition}: nothing older`);
  }
  if (!result) {
    lines.push(`would delete ${plan.records} record${plan.records === 1 ? '' : 's'} (dry run: nothing deleted)`);
    return lines;
  }
  lines.push(`deleted ${result.deleted} record${result.deleted === 1 ? '' : 's'}`);
  for (const p of result.partitions.filter((x) => x.deleted > 0)) lines.push(`  partition ${p.partition} now starts at offset ${p.lowAfter}`);
  if (result.deleted !== plan.records) lines.push(`note: ${plan.records} were planned; the others went meanwhile (retention) or arrived after the plan`);
  return lines;
}

/** `--before`: an ISO 8601 date or date-time; a time without a zone is UTC, never the machine's zone. */
export function parseBefore(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    throw new DlqUsageError(`--before "${text}" is not an ISO 8601 time such as 2024-05-01 or 2024-05-01T12:00:00Z`);
  }
  const zoned = /T/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text;
  const ms = Date.parse(zoned);
  if (Number.isNaN(ms)) throw new DlqUsageError(`--before "${text}" is not a valid time`);
  return ms;
}

/** Progress bars on stderr; loaded only when one is shown. */
async function progressBars(unit = 'records') {
  const { default: cliProgress } = await import('cli-progress');
  return (label: string, total: number) => {
    const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} ${unit}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
    bar.start(Math.max(total, 1), 0);
    return bar;
  };
}

async function progressBar(label: string, total: number) {
  return (await progressBars())(label, total);
}

function setup() {
  const config = loadConfig();
  const kafka = createKafka(config, { clientIdSuffix: 'dlq' });
  const topicPrefix = config.topics.prefix;
  const groupPrefix = config.runner.groupPrefix ?? topicPrefix;
  // The groups of this deployment: the core stages' and the push stages' whose target a tenant configures.
  const reader = new DlqReader(kafka, { topicPrefix, groupPrefix, groups: enabledDlqGroups(config.tenants) });
  const marks = new DlqMarks(kafka, { topicPrefix, groupPrefix });
  return { config, kafka, reader, marks, scrub: secretScrubber(configSecrets(config)) };
}

/** A wrong group, reference or time is a usage error: one line and exit code 2. */
function usage(command: Command, fn: () => Promise<void>): Promise<void> {
  return fn().catch((error: unknown) => {
    if (error instanceof DlqUsageError) command.error(`error: ${error.message}`, { exitCode: 2 });
    throw error;
  });
}

export function registerDlqCommand(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('inspect, replay and purge the dead-letter topics <prefix><group>.dlq')
    .summary('inspect, replay and purge the dead-letter topics')
    .addHelpText(
      'after',
      `
Groups: map, chunk, embed, store. A record is named <group>:<partition>:<offset>,
as \`dlq list\` prints it. The depth \`dlq list\` shows is the records still to
handle: neither replayed nor purged (the topic <prefix>dlq.marks records which).

\`dlq replay\` sends dead records back through their stage once the cause is
fixed: records of terminal groups (${DEFAULT_TERMINAL_GROUPS.join(', ')}) go to the group's first retry
tier, due at once, and the target's version guard drops any that a newer version
overtook; the others are re-processed from the key's current input (its latest
record, produced again), so a replay never brings back an old version. A record
is replayed once unless --again. \`dlq purge\` deletes with Kafka's DeleteRecords:
there is no undo. Try --dry-run first with both.`,
    );

  const list = dlq
    .command('list')
    .description('records still to handle per group by error code, with times and samples')
    .option('--group <group>', 'one group only')
    .option('--json', 'print JSON')
    .action((options: { group?: string; json?: boolean }) =>
      usage(list, async () => {
        const { reader, marks, scrub } = setup();
        const groups = options.group ? [checkGroup(options.group, reader.groups)] : [...reader.groups];
        const index = await marks.load();
        if (!index) console.error(`note: ${marks.missing()}; every record held counts as still to handle`);
        const ranges = await Promise.all(groups.map((g) => reader.ranges(g)));
        const total = ranges.reduce((sum, r) => sum + (r ?? []).reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0), 0);
        const bar = !options.json && process.stderr.isTTY === true && total > 0 ? await progressBar('reading', total) : undefined;
        const summaries: DlqGroupSummary[] = [];
        let before = 0;
        try {
          for (const [i, group] of groups.entries()) {
            const summary = await reader.summarize(group, {
              ranges: ranges[i] ?? undefined,
              onProgress: (read) => bar?.update(before + read),
              stateOf: (record) => (index?.replayed(record) ? 'replayed' : 'pending'),
              purged: index?.purged(group, ranges[i]) ?? 0,
            });
            before += summary.records;
            summaries.push(summary);
          }
        } finally {
          bar?.stop();
        }
        if (options.json) {
          const clean = summaries.map((s) => ({
            ...s,
            byCode: s.byCode.map((c) => ({ ...c, lastMessage: scrub(c.lastMessage) })),
            samples: s.samples.map((x) => ({ ...x, key: x.key === null ? null : scrub(x.key) })),
          }));
          console.log(JSON.stringify(clean, null, 2));
          return;
        }
        for (const line of formatSummaries(summaries, scrub)) console.log(line);
        if (summaries.some((s) => s.pending > 0)) console.log('\none record in full: ragsync dlq show <group>:<partition>:<offset>; send them back: ragsync dlq replay --dry-run');
      }),
    );

  const show = dlq
    .command('show')
    .description('one record in full, decoded, secrets masked, and if it was replayed')
    .argument('<ref>', 'the record, as <group>:<partition>:<offset> (e.g. store:0:42)')
    .option('--json', 'print JSON')
    .action((refText: string, options: { json?: boolean }) =>
      usage(show, async () => {
        const { config, reader, marks, scrub } = setup();
        const ref = parseDlqRef(refText, reader.groups);
        const index = await marks.load();
        let record: DeadRecord;
        try {
          record = await reader.read(ref);
        } catch (error) {
          const purgedAt = index?.purgedAt(ref.group, ref.partition, ref.offset);
          if (error instanceof DlqNotFoundError && purgedAt) throw new DlqNotFoundError(`${error.message}; deleted by \`dlq purge\` (the last purge of the partition ran at ${purgedAt})`);
          throw error;
        }
        let serde: RegistrySerde | undefined;
        const value = await decodeValue(record, () => (serde ??= new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix })));
        const view = recordView(record, value, scrub, index?.replayed(record));
        if (options.json) console.log(JSON.stringify(view, null, 2));
        else for (const line of formatRecord(view)) console.log(line);
      }),
    );

  const replay = dlq
    .command('replay')
    .description('send dead records back through their stage once the cause is fixed')
    .option('--group <group>', 'one group only (default: every group)')
    .option('--filter <name=value>', 'code=<error code> or key=<part of the key>; repeatable (any value of a kind matches)', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option('--ref <ref>', 'one record, as <group>:<partition>:<offset>')
    .option('--dry-run', 'only say what would be replayed; produce and mark nothing')
    .option('--again', 'replay records that were replayed before, too')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Terminal groups (${DEFAULT_TERMINAL_GROUPS.join(', ')}): the dead record goes to the group's first retry tier,
due now, with every retry ahead of it; a version that was overtaken is dropped by
the target. Other groups: the key's latest input record (or its delete) is
produced again to its input topic, never the dead one. A record stored without
its value (too large for the DLQ) is replayed from the key's current input.
Each replayed record is marked once Kafka has acknowledged what was produced.`,
    )
    .action((options: { group?: string; filter?: string[]; ref?: string; dryRun?: boolean; again?: boolean; json?: boolean }) =>
      usage(replay, async () => {
        const { config, kafka, reader, scrub } = setup();
        const filters = parseReplayFilters(options.filter ?? []);
        const ref = options.ref === undefined ? undefined : parseDlqRef(options.ref, reader.groups);
        if (ref && options.group && options.group !== ref.group) throw new DlqUsageError(`--ref ${options.ref} is a record of group ${ref.group}, not of --group ${options.group}`);
        const groups = ref ? [ref.group] : options.group ? [checkGroup(options.group, reader.groups)] : [...reader.groups];
        const replayer = new DlqReplayer(kafka, {
          topicPrefix: config.topics.prefix,
          groupPrefix: config.runner.groupPrefix ?? config.topics.prefix,
          retryDelaysMs: config.topics.retryDelaysMs,
          maxMessageBytes: config.topics.maxMessageBytes,
        });
        const records = !options.json && process.stderr.isTTY === true ? await progressBars() : undefined;
        const partitions = records ? await progressBars('input partitions') : undefined;
        let bar: ReturnType<NonNullable<typeof records>> | undefined;
        let phase = '';
        const onProgress = (p: ReplayProgress) => {
          const label = p.phase === 'dlq' ? `${p.group}: reading the DLQ` : `${p.group}: reading current inputs`;
          if (label !== phase) {
            bar?.stop();
            phase = label;
            bar = (p.phase === 'dlq' ? records : partitions)?.(label, p.total);
          }
          bar?.update(p.done);
        };
        let report: ReplayReport;
        try {
          report = await replayer.replay({
            groups,
            ...(ref ? { ref } : {}),
            filters,
            dryRun: options.dryRun === true,
            again: options.again === true,
            ...(records ? { onProgress } : {}),
          });
        } finally {
          bar?.stop();
        }
        if (options.json) {
          const clean = {
            ...report,
            replayed: report.replayed.map((r) => ({ ...r, key: r.key === null ? null : scrub(r.key) })),
            notReplayable: report.notReplayable.map((r) => ({ ...r, key: r.key === null ? null : scrub(r.key), why: scrub(r.why) })),
          };
          console.log(JSON.stringify(clean, null, 2));
        } else for (const line of formatReplay(report, scrub)) console.log(line);
      }),
    );

  const purge = dlq
    .command('purge')
    .description('delete the records dead-lettered before a time')
    .requiredOption('--group <group>', 'the group whose DLQ to purge')
    .requiredOption('--before <time>', 'ISO 8601 time (UTC unless a zone is given)')
    .option('--dry-run', 'only say what would be deleted')
    .option('--json', 'print JSON')
    .action((options: { group: string; before: string; dryRun?: boolean; json?: boolean }) =>
      usage(purge, async () => {
        const { kafka, reader, marks } = setup();
        const group = checkGroup(options.group, reader.groups);
        const beforeMs = parseBefore(options.before);
        const plan = await reader.planPurge(group, beforeMs);
        if (options.dryRun) {
          if (options.json) console.log(JSON.stringify({ dryRun: true, plan }, null, 2));
          else for (const line of formatPurge(plan)) console.log(line);
          return;
        }
        // Checked first: what is deleted is counted as purged only through its marks.
        const index = await marks.load();
        if (!index) throw new DlqNotFoundError(marks.missing());
        const result = await reader.purge(plan);
        const producer = createIdempotentProducer(kafka);
        await producer.connect();
        try {
          await marks.writePurged(producer, index, group, result.partitions, plan.before);
        } finally {
          await producer.disconnect();
        }
        if (options.json) console.log(JSON.stringify(result, null, 2));
        else for (const line of formatPurge(plan, result)) console.log(line);
      }),
    );
}
