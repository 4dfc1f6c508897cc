import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ENTITY_TYPES } from '../core/entities.js';
import { TENANT_PATTERN } from '../core/keys.js';

/** bin/ragsync.js of this installation (the same from src/ and from dist/). */
export const RAGSYNC_BIN = fileURLToPath(new URL('../../bin/ragsync.js', import.meta.url));

export const RESYNC_SOURCES = ['changes', 'documents', 'vectors'] as const;

/** What the dashboard's resync form asks for; each field becomes the flag of the same name. */
export interface ResyncRequest {
  tenant?: string;
  types?: string[];
  from?: (typeof RESYNC_SOURCES)[number];
  into?: string;
}

/** A resync the dashboard started, as its page shows it. */
export interface ResyncJobState {
  state: 'running' | 'done' | 'failed';
  /** The command line after `ragsync`. */
  args: string[];
  startedAt: string;
  endedAt?: string;
  exitCode?: number | null;
  /** The newest progress line the command printed ({phase, done, total, rate, etaSeconds, …}). */
  progress?: Record<string, unknown>;
  progressLines: number;
  /** The end of what the command wrote on stderr and the lines of stdout that were not progress (secrets masked). */
  output: string;
}

export class ResyncUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResyncUsageError';
  }
}

/** The `ragsync resync` arguments of a request; a malformed field is a ResyncUsageError naming it. */
export function resyncArgs(request: ResyncRequest): string[] {
  const args = ['resync'];
  if (request.tenant !== undefined && request.tenant !== '') {
    if (!TENANT_PATTERN.test(request.tenant)) throw new ResyncUsageError(`tenant "${request.tenant}" is not a tenant name (${TENANT_PATTERN.source})`);
    args.push('--tenant', request.tenant);
  }
  const types = (request.types ?? []).filter((t) => t !== '');
  if (types.length > 0) {
    const unknown = types.filter((t) => !(ENTITY_TYPES as readonly string[]).includes(t));
    if (unknown.length > 0) throw new ResyncUsageError(`unknown entity type ${unknown.join(', ')} (one of ${ENTITY_TYPES.join(', ')})`);
    args.push('--types', types.join(','));
  }
  if (request.from !== undefined) {
    if (!(RESYNC_SOURCES as readonly string[]).includes(request.from)) throw new ResyncUsageError(`from "${String(request.from)}" is not one of ${RESYNC_SOURCES.join(', ')}`);
    args.push('--from', request.from);
  }
  if (request.into !== undefined && request.into !== '') {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(request.into)) throw new ResyncUsageError(`into "${request.into}" is not a collection name (letters, digits, _ . -)`);
    args.push('--into', request.into);
  }
  return [...args, '--progress', 'json', '--yes'];
}

const OUTPUT_LIMIT = 8000;

/**
 * Runs `ragsync resync … --progress json --yes` as a child process of the dashboard (one at a
 * time), with the dashboard's environment, so it reads the same configuration. Each stdout line
 * that is a JSON object is the newest progress; anything else, stderr included, is kept (its end)
 * to show why it failed.
 */
export class ResyncJob {
  private child: ChildProcess | undefined;
  private job: ResyncJobState | undefined;

  constructor(private readonly options: { scrub: (text: string) => string; env?: NodeJS.ProcessEnv }) {}

  get state(): ResyncJobState | undefined {
    return this.job;
  }

  start(request: ResyncRequest): ResyncJobState {
    if (this.job?.state === 'running') throw new ResyncUsageError('a resync is running already');
    const args = resyncArgs(request);
    const job: ResyncJobState = { state: 'running', args, startedAt: new Date().toISOString(), progressLines: 0, output: '' };
    this.job = job;
    const keep = (text: string) => (job.output = this.options.scrub(job.output + text).slice(-OUTPUT_LIMIT));
    const child = spawn(process.execPath, [RAGSYNC_BIN, ...args], { env: this.options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = undefined;
        }
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
          job.progress = JSON.parse(this.options.scrub(line)) as Record<string, unknown>;
          job.progressLines++;
        } else if (line.trim() !== '') keep(`${line}\n`);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => keep(chunk.toString()));
    child.on('error', (error) => {
      keep(`cannot start ${RAGSYNC_BIN}: ${error.message}\n`);
      job.state = 'failed';
      job.endedAt = new Date().toISOString();
    });
    child.on('close', (code) => {
      if (buffered.trim() !== '') keep(buffered);
      job.exitCode = code;
      job.state = code === 0 ? 'done' : 'failed';
      job.endedAt = new Date().toISOString();
      this.child = undefined;
    });
    return job;
  }

  /** Stops a running resync (the dashboard shuts down): SIGTERM, as an operator's Ctrl-C. */
  stop(): void {
    this.child?.kill('SIGTERM');
  }
}
