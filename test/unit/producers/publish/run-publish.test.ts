import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../../src/cli/program.js';
import type { ChangeMessage, ChangeSink } from '../../../../src/core/changes.js';
import { RetryableError } from '../../../../src/core/errors.js';
import { parseKey } from '../../../../src/core/keys.js';
import { RecordsRefusedError } from '../../../../src/kafka/producer.js';
import { formatPublishSummary } from '../../../../src/producers/publish/report.js';
import { PublishStoppedError, runPublish } from '../../../../src/producers/publish/run-publish.js';

/**
 * `ragsync publish` when lines cannot be published: a record the sink refuses, a line too large
 * to be one, Kafka gone. The run reports each line by number, publishes everything else, and
 * always ends with a summary.
 */
const defaults = { now: Date.UTC(2026, 5, 15, 12), storesOf: () => [0] };
const line = (id: string, name = `Lamp ${id}`) => JSON.stringify({ type: 'product', tenant: 'acme', id, action: 'save', data: { sku: id, name } });

async function* lines(...texts: string[]) {
  yield* texts;
}

/** Refuses, before sending, every record named "Huge" (like one over max.message.bytes); fails all calls once `down`. */
class Sink implements ChangeSink {
  published: ChangeMessage[] = [];
  down = false;
  async publish(messages: ChangeMessage[]): Promise<void> {
    if (this.down) throw new RetryableError('Kafka did not acknowledge 2 record(s) within 100 ms', { code: 'kafka_ack_timeout' });
    const refusals = messages.flatMap((m, index) =>
      m.value?.name === 'Huge' ? [{ index, code: 'record_too_large' as const, path: '', reason: 'too large: the encoded record takes 5000000 bytes', message: `record ${index}: too large` }] : [],
    );
    if (refusals.length > 0) throw new RecordsRefusedError(refusals);
    this.published.push(...messages);
  }
  async close(): Promise<void> {}
}

describe('runPublish', () => {
  it('reports a line whose record the sink refuses by its number, and publishes the rest of its batch', async () => {
    const sink = new Sink();
    const summary = await runPublish(lines(line('a'), line('b', 'Huge'), line('c')), { ...defaults, sink, batchSize: 10 });
    expect(summary).toMatchObject({ lines: 3, published: 2, rejected: 1, rejections: [{ line: 2, issues: [{ path: '', message: 'too large: the encoded record takes 5000000 bytes' }] }] });
    expect(sink.published.map((m) => parseKey(m.key).entityId)).toEqual(['a', 'c']);
    expect(formatPublishSummary(summary)).toContain('line 2: too large');
  });

  it('says how long the run took and at what rate it published', async () => {
    /** Takes 50 ms to acknowledge each call. */
    class SlowSink extends Sink {
      override async publish(messages: ChangeMessage[]): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await super.publish(messages);
      }
    }
    const before = performance.now();
    const summary = await runPublish(lines(line('a'), line('b'), line('c'), line('d')), { ...defaults, sink: new SlowSink(), batchSize: 2 });
    const wall = (performance.now() - before) / 1000;
    // Two calls one after the other: at least 0.1 s, and never more than the call itself took.
    expect(summary.seconds).toBeGreaterThanOrEqual(0.09);
    expect(summary.seconds).toBeLessThanOrEqual(wall + 0.001);
    expect(formatPublishSummary(summary)).toMatch(new RegExp(`^published 4 record\\(s\\) from 4 line\\(s\\); rejected 0 line\\(s\\); ${summary.seconds.toFixed(1)} s, ${Math.round(4 / summary.seconds)} records/s$`));
    // A dry run publishes nothing, so it states no rate.
    const dry = await runPublish(lines(line('a')), { ...defaults, sink: null, dryRun: true });
    expect(formatPublishSummary(dry)).toBe('would publish 1 record(s) from 1 line(s); rejected 0 line(s)');
    expect(formatPublishSummary({ ...summary, published: 100_000, seconds: 2.5 })).toContain('; 2.5 s, 40,000 records/s');
  });

  it('has the sink get ready (registry, Kafka) before the first line is read, and not on a dry run', async () => {
    const events: string[] = [];
    class ReadySink extends Sink {
      warmUp(): void {
        events.push('warm-up');
      }
    }
    async function* read() {
      events.push('read');
      yield line('a');
    }
    await runPublish(read(), { ...defaults, sink: new ReadySink() });
    expect(events).toEqual(['warm-up', 'read']);
    events.length = 0;
    await runPublish(read(), { ...defaults, sink: new ReadySink(), dryRun: true });
    expect(events).toEqual(['read']);
  });

  it('refuses a line over 16 MiB without parsing it', async () => {
    const sink = new Sink();
    const huge = line('big', 'x'.repeat(17 * 1024 * 1024));
    const summary = await runPublish(lines(line('a'), huge, line('c')), { ...defaults, sink });
    expect(summary).toMatchObject({ published: 2, rejections: [{ line: 2, issues: [{ path: '', message: expect.stringMatching(/^the line is \d+ bytes; at most 16777216$/) }] }] });
  });

  it('stops when publishing fails, with a summary saying from which line on nothing is known to be stored', async () => {
    const sink = new Sink();
    const run = runPublish(
      (async function* () {
        yield line('a');
        yield line('b');
        sink.down = true;
        yield line('c');
        yield line('d');
        yield line('e');
      })(),
      { ...defaults, sink, batchSize: 2 },
    );
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishStoppedError);
    const { summary } = error as PublishStoppedError;
    expect(summary.published).toBe(2);
    expect(summary.stopped).toEqual({ line: 3, code: 'kafka_ack_timeout', message: 'Kafka did not acknowledge 2 record(s) within 100 ms' });
    expect(formatPublishSummary(summary)).toMatch(/stopped at line 3: Kafka did not acknowledge .*\n {2}lines before 3 are published/);
  });
});

describe('runPublish reading ahead', () => {
  /** Holds every call for a moment; counts calls at once; fails the calls whose numbers are listed. */
  class SlowSink implements ChangeSink {
    calls: string[][] = [];
    active = 0;
    mostAtOnce = 0;
    constructor(private readonly failing: number[] = []) {}
    async publish(messages: ChangeMessage[]): Promise<void> {
      const call = this.calls.push(messages.map((m) => parseKey(m.key).entityId));
      this.active += 1;
      this.mostAtOnce = Math.max(this.mostAtOnce, this.active);
      await new Promise((resolve) => setTimeout(resolve, 20));
      this.active -= 1;
      if (this.failing.includes(call)) throw new RetryableError('Kafka did not acknowledge 2 record(s) within 100 ms', { code: 'kafka_ack_timeout' });
    }
    async close(): Promise<void> {}
  }

  it('sends one batch at a time and in order, reading the next lines meanwhile', async () => {
    const sink = new SlowSink();
    let read = 0;
    const readWhenCalled: number[] = [];
    const publish = sink.publish.bind(sink);
    sink.publish = async (messages) => {
      readWhenCalled.push(read);
      return publish(messages);
    };
    const summary = await runPublish(
      (async function* () {
        for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
          read += 1;
          yield line(id);
        }
      })(),
      { ...defaults, sink, batchSize: 2 },
    );
    expect(summary).toMatchObject({ lines: 7, published: 7, rejected: 0 });
    expect(sink.calls).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f'], ['g']]);
    expect(sink.mostAtOnce).toBe(1);
    // The second call was made only after the first was acknowledged, by which time more lines were read.
    expect(readWhenCalled[1]).toBeGreaterThan(4);
  });

  it('reads further ahead until Kafka acknowledged the first batch, then keeps to readAhead', async () => {
    /** Holds each call until the test lets it go. */
    class GatedSink extends Sink {
      readonly gates: Array<() => void> = [];
      override async publish(messages: ChangeMessage[]): Promise<void> {
        await new Promise<void>((resolve) => this.gates.push(resolve));
        await super.publish(messages);
      }
    }
    const sink = new GatedSink();
    let read = 0;
    const ids = Array.from({ length: 30 }, (_, i) => `p${i}`);
    const run = runPublish(
      (async function* () {
        for (const id of ids) {
          read += 1;
          yield line(id);
        }
      })(),
      { ...defaults, sink, batchSize: 2, readAhead: 2, startingReadAhead: 4 },
    );
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    await settle();
    // The first batch is in flight and four more are cut: 10 lines read, then reading waits.
    expect(sink.gates).toHaveLength(1);
    expect(read).toBe(10);
    sink.gates[0]!();
    await settle();
    // Acknowledged: the second batch is sent and three are ready, more than readAhead, so no line more is read.
    expect(sink.gates).toHaveLength(2);
    expect(read).toBe(10);
    sink.gates[1]!();
    await settle();
    // Two ready after the third is sent: still at readAhead.
    expect(read).toBe(10);
    for (let next = 2; next < 15; next++) {
      await settle();
      sink.gates[next]!();
    }
    const summary = await run;
    expect(summary).toMatchObject({ lines: 30, published: 30, rejected: 0 });
    expect(sink.published.map((m) => parseKey(m.key).entityId)).toEqual(ids);
  });

  it('stops at the first batch that fails, reporting the run as it stood when that batch was cut', async () => {
    const sink = new SlowSink([2]);
    const error = await runPublish(lines(line('a'), line('b'), '{broken', line('c'), line('d'), '{broken too', line('e'), line('f')), { ...defaults, sink, batchSize: 2 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PublishStoppedError);
    const { summary } = error as PublishStoppedError;
    // Line 6 was read ahead of the failed batch (lines 4 and 5): it is left to the next run, as the lines after it.
    expect(summary).toMatchObject({ lines: 5, published: 2, rejected: 1, rejections: [{ line: 3 }], stopped: { line: 4, code: 'kafka_ack_timeout' } });
    expect(sink.calls.slice(0, 2)).toEqual([['a', 'b'], ['c', 'd']]);
  });
});

describe('ragsync publish exit codes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-publish-'));
  let out = '';
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    out = '';
  });

  async function cli(...args: string[]) {
    let err = '';
    vi.spyOn(console, 'log').mockImplementation((text: string) => void (out += `${text}\n`));
    const code = await runCli(['node', 'ragsync', 'publish', ...args], { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
    return { code, out, err };
  }

  it('answers a missing file with exit code 2 and a one-line error', async () => {
    const { code, err } = await cli(join(dir, 'missing.ndjson'));
    expect(code).toBe(2);
    expect(err).toMatch(/^error: cannot read .*missing\.ndjson: ENOENT/);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('answers a bad --batch-size with exit code 2', async () => {
    const file = join(dir, 'one.ndjson');
    writeFileSync(file, `${line('a')}\n`);
    expect((await cli(file, '--dry-run', '--batch-size', '0')).code).toBe(2);
  });

  it('prints the summary and exits 1 when a line is rejected (dry run)', async () => {
    const file = join(dir, 'mixed.ndjson');
    writeFileSync(file, `${line('a')}\n{"type":"product"\n${line('c', 'Lamp \ud800')}\n`);
    const { code } = await cli(file, '--dry-run', '--json');
    expect(code).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ lines: 3, published: 1, rejected: 2, rejections: [{ line: 2 }, { line: 3, issues: [{ path: 'data.name' }] }] });
  });

  it('prints the summary and exits 3 when publishing stops (nothing answers at the registry address)', async () => {
    const file = join(dir, 'stopped.ndjson');
    writeFileSync(file, `${line('a')}\n${line('b')}\n`);
    const saved = { ...process.env };
    Object.assign(process.env, { SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1', KAFKA_BROKERS: '127.0.0.1:1', KAFKA_ACK_TIMEOUT_MS: '1000' });
    try {
      const { code } = await cli(file);
      expect(code).toBe(3);
      expect(out).toMatch(/^published 0 record\(s\), then stopped; read 2 line\(s\), rejected 0 line\(s\)\nstopped at line 1: .*\(registry_unavailable\)/);
    } finally {
      process.env = saved;
    }
  });

  it('documents its exit codes in --help', async () => {
    const { code } = await cli('--help');
    expect(code).toBe(0);
    expect(out).toContain('Exit codes:');
    expect(out).toMatch(/2 {2}usage or configuration error/);
    expect(out).toMatch(/3 {2}publishing stopped/);
  });
});
