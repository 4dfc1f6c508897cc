/**
 * `npm run bench:profile -- <dir|file.cpuprofile>… [--top 20] [--json]`
 *
 * Summarizes V8 CPU profiles (`--cpu-prof`, as `npm run bench -- --cpu-prof <dir>` and
 * `npm run bench -- --scenario pipeline --cpu-prof <dir>` write them): per profile (one per process
 * and thread), the sampled wall time, how much of it the thread was busy, garbage collection, and
 * where the busy time went by self time, per function and per package or source folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Microseconds sampled, from the first sample to the last. */
  wallMs: number;
  busyMs: number;
  gcMs: number;
  functions: { name: string; ms: number }[];
  places: { name: string; ms: number }[];
}

/** Where a frame's code lives: a package under node_modules, a folder of this project, Node itself. */
export function placeOf(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const project = url.match(/\/(src|bench|test|bin)\/(.*)$/);
  if (project) {
    // A folder of the project (src/kafka), or the file itself when it lies at the top (bin/ragsync.js).
    return `${project[1]}/${project[2]!.split('/')[0]}`;
  }
  return url.replace(/^file:\/\//, '');
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function summarize(file: string, profile: CpuProfile, top: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; charge the time up to the next sample to sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + us);
  }
  let idle = 0;
  let gc = 0;
  let total = 0;
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  for (const [id, us] of self) {
    total += us;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gc += us;
    const name = SPECIAL.has(frame.functionName) ? frame.functionName : `${frame.functionName || '(anonymous)'} ${placeOf(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const place = SPECIAL.has(frame.functionName) ? frame.functionName : placeOf(frame.url);
    places.set(place, (places.get(place) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000 }));
  return { file, wallMs: total / 1000, busyMs: (total - idle) / 1000, gcMs: gc / 1000, functions: sorted(functions), places: sorted(places) };
}

function profilesIn(paths: string[]): string[] {
  return paths.flatMap((p) => {
    if (!statSync(p).isDirectory()) return [p];
    return readdirSync(p, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()
      .map((f) => join(p, f));
  });
}

function render(s: ProfileSummary): string {
  const pct = (ms: number) => (s.busyMs > 0 ? `${((100 * ms) / s.busyMs).toFixed(1)} %` : '-');
  const lines = [
    `## ${basename(s.file)}`,
    `sampled ${(s.wallMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (${s.wallMs > 0 ? ((100 * s.busyMs) / s.wallMs).toFixed(0) : 0} %), garbage collection ${(s.gcMs / 1000).toFixed(1)} s (${pct(s.gcMs)} of busy)`,
    '',
    'self time by package or folder:',
    ...s.places.map((p) => `  ${pct(p.ms).padStart(7)}  ${(p.ms / 1000).toFixed(2).padStart(7)} s  ${p.name}`),
    'self time by function:',
    ...s.functions.map((f) => `  ${pct(f.ms).padStart(7)}  ${(f.ms / 1000).toFixed(2).padStart(7)} s  ${f.name}`),
  ];
  return lines.join('\n');
}

export function main(argv: string[]): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { top: { type: 'string', default: '20' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length === 0) {
    console.log('usage: npm run bench:profile -- <dir|file.cpuprofile>… [--top 20] [--json]\nSummarizes V8 CPU profiles: busy time, garbage collection, self time by package and by function.');
    process.exit(positionals.length === 0 && !values.help ? 2 : 0);
  }
  const top = Number(values.top);
  if (!Number.isInteger(top) || top <= 0) throw new Error(`--top: "${values.top}" is not a positive whole number`);
  const files = profilesIn(positionals);
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${positionals.join(', ')}`);
  const summaries = files.map((f) => summarize(f, JSON.parse(readFileSync(f, 'utf8')) as CpuProfile, top));
  // Busiest first: the thread that limits a run is the one to read.
  summaries.sort((a, b) => b.busyMs - a.busyMs);
  console.log(values.json ? JSON.stringify(summaries, null, 2) : summaries.map(render).join('\n\n'));
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main(process.argv.slice(2));
