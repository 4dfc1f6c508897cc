import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { edgePython } from './python-env.js';

/**
 * One edge_shard.py process: Qdrant's engine, one edge shard per collection, spoken to as JSON
 * lines over its stdin and stdout. The process answers in request order; requests may be sent
 * before earlier ones are answered. Its shards live in a temporary directory that is removed on
 * close, and also by the process itself when its stdin closes (so a killed test run leaves none).
 */
export type EdgeErrorKind = 'rejected' | 'unsupported' | 'crashed';

/** An answer the engine gave as an error, with the HTTP status Qdrant gives it. */
export class EdgeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly kind: EdgeErrorKind,
  ) {
    super(message);
  }
}

interface Reply {
  id: number;
  result?: unknown;
  error?: { status: number; message: string; kind: EdgeErrorKind };
}

export interface EdgeRequest {
  op: string;
  collection: string;
  body?: unknown;
  wait?: boolean;
}

export class EdgeProcess {
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private stderr = '';
  private exited: Error | undefined;
  private readonly done: Promise<void>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly dir: string,
    ready: (error?: Error) => void,
  ) {
    // A write after the process died fails here; the 'close' handler has rejected the call already.
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // The last few kilobytes are enough to say why it stopped.
      this.stderr = (this.stderr + chunk).slice(-8192);
    });
    let started = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!started) {
        started = true;
        return ready();
      }
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        // Not an answer (a library printing to stdout): keep it for the message if the process dies.
        this.stderr = (this.stderr + line + '\n').slice(-8192);
        return;
      }
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiting?.reject(new EdgeError(reply.error.status, reply.error.message, reply.error.kind));
      else waiting?.resolve(reply.result);
    });
    this.done = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exited = new EdgeError(500, `Service internal error: the Qdrant engine process stopped (${signal ?? `exit ${code}`}): ${this.stderr.trim()}`, 'crashed');
        for (const waiting of this.pending.values()) waiting.reject(this.exited);
        this.pending.clear();
        if (!started) ready(this.exited);
        resolve();
      });
    });
  }

  static async start(): Promise<EdgeProcess> {
    const { python, script } = await edgePython();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ragsync-qdrant-edge-'));
    // -B: no __pycache__ beside the scripts in the work tree.
    const child = spawn(python, ['-B', script, path.join(dir, 'shards')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let edge: EdgeProcess | undefined;
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      edge = new EdgeProcess(child, dir, (error) => (error === undefined ? resolve() : reject(error)));
    }).catch(async (error: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw error;
    });
    return edge!;
  }

  /** The `result` Qdrant would answer with; rejects with an {@link EdgeError}. */
  call(request: EdgeRequest): Promise<unknown> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.exited === undefined) this.child.stdin.end();
    await this.done;
    await rm(this.dir, { recursive: true, force: true });
  }
}
