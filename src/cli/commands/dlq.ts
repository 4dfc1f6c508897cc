import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { describeError } from '../../core/errors.js';
import { createKafka } from '../../kafka/client.js';
import { DlqReader, DlqUsageError, parseDlqRef, checkGroup, type DeadRecord, type DlqGroupSummary, type PurgePlan, type PurgeResult } from '../../kafka/dlq-reader.js';
import { RegistryClient } from '../../kafka/registry.js';
import { RegistrySerde } from '../../kafka/serde.js';

/**
 * `ragsync dlq list|show|purge`: what the dead-letter topics hold, by error code; one record in
 * full; deleting the records older than a time. Output is for people, `--json` for scripts. Nothing
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
    if (s.records === 0) {
      lines.push(`${head}  empty`);
      continue;
    }
    lines.push(`${head}  ${s.records} record${s.records === 1 ? '' : 's'}, dead-lettered ${s.oldest} … ${s.newest}`);
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

/** The record as `--json` prints it (and the text output shows), secrets masked. */
export function recordView(record: DeadRecord, value: ValueView, scrub: (text: string) => string) {
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

async function progressBar(label: string, total: number) {
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} records`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(Math.max(total, 1), 0);
  return bar;
}

function setup() {
  const config = loadConfig();
  const reader = new DlqReader(createKafka(config, { clientIdSuffix: 'dlq' }), { topicPrefix: config.topics.prefix, groupPrefix: config.runner.groupPrefix });
  return { config, reader, scrub: secretScrubber(configSecrets(config)) };
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
    .description('inspect and purge the dead-letter topics <prefix><group>.dlq')
    .summary('inspect and purge the dead-letter topics')
    .addHelpText(
      'after',
      `
Groups: map, chunk, embed, store. A record is named <group>:<partition>:<offset>,
as \`dlq list\` prints it. \`dlq purge\` deletes with Kafka's DeleteRecords: there is
no undo; try --dry-run first.
Coming: \`dlq replay\`, which sends dead records back through their stage (terminal
groups through their retry path, the others by re-processing the key's current
input).`,
    );

  const list = dlq
    .command('list')
    .description('records per group by error code, with times and samples')
    .option('--group <group>', 'one group only')
    .option('--json', 'print JSON')
    .action((options: { group?: string; json?: boolean }) =>
      usage(list, async () => {
        const { reader, scrub } = setup();
        const groups = options.group ? [checkGroup(options.group, reader.groups)] : [...reader.groups];
        const ranges = await Promise.all(groups.map((g) => reader.ranges(g)));
        const total = ranges.reduce((sum, r) => sum + (r ?? []).reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0), 0);
        const bar = !options.json && process.stderr.isTTY === true && total > 0 ? await progressBar('reading', total) : undefined;
        const summaries: DlqGroupSummary[] = [];
        let before = 0;
        try {
          for (const [i, group] of groups.entries()) {
            const summary = await reader.summarize(group, { ranges: ranges[i] ?? undefined, onProgress: (read) => bar?.update(before + read) });
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
        if (summaries.some((s) => s.records > 0)) console.log('\none record in full: ragsync dlq show <group>:<partition>:<offset>');
      }),
    );

  const show = dlq
    .command('show')
    .description('one record in full, its value decoded, secrets masked')
    .argument('<ref>', 'the record, as <group>:<partition>:<offset> (e.g. store:0:42)')
    .option('--json', 'print JSON')
    .action((refText: string, options: { json?: boolean }) =>
      usage(show, async () => {
        const { config, reader, scrub } = setup();
        const record = await reader.read(parseDlqRef(refText, reader.groups));
        let serde: RegistrySerde | undefined;
        const value = await decodeValue(record, () => (serde ??= new RegistrySerde(new RegistryClient(config.registry), { prefix: config.topics.prefix })));
        const view = recordView(record, value, scrub);
        if (options.json) console.log(JSON.stringify(view, null, 2));
        else for (const line of formatRecord(view)) console.log(line);
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
        const { reader } = setup();
        const group = checkGroup(options.group, reader.groups);
        const beforeMs = parseBefore(options.before);
        const plan = await reader.planPurge(group, beforeMs);
        const result = options.dryRun ? undefined : await reader.purge(plan);
        if (options.json) console.log(JSON.stringify(result ?? { dryRun: true, plan }, null, 2));
        else for (const line of formatPurge(plan, result)) console.log(line);
      }),
    );
}
