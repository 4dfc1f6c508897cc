import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaAnswers } from '../../../src/kafka/health.js';
import { stackLayout } from '../../../src/stack/layout.js';
import { newClusterId } from '../../../src/stack/services.js';

/**
 * A single-node Kafka (KRaft, broker and controller) of a test's own, from the binaries
 * `ragsync stack up` installed, with its data under a temp folder and free ports: a test that
 * kills, stops or cuts a broker must never do it to the shared one other tests run against. It
 * can be SIGKILLed, stopped and started again on the same data and ports, so clients see the
 * same broker come back.
 *
 * With `workerListener`, the broker has a second listener: clients that connect to it are told to
 * reach the broker at `advertisedPort` (a proxy the test controls, see {@link TcpProxy}), while the
 * test's own clients and the broker itself keep the direct listener.
 */
export interface OwnBrokerOptions {
  label: string;
  workerListener?: { advertisedPort: number };
}

/** A port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Brokers still running when the test process exits are killed with it. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class OwnBroker {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Times the broker was started; a start after the first reuses the data dir. */
  starts = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly controllerPort: number,
    /** The listener a proxy forwards to; undefined without `workerListener`. */
    readonly workerPort: number | undefined,
    private readonly advertisedWorkerPort: number | undefined,
  ) {}

  /** Formats a fresh data dir on free ports and starts the broker; resolves once it answers. */
  static async start(options: OwnBrokerOptions): Promise<OwnBroker> {
    const layout = stackLayout();
    const dir = mkdtempSync(join(tmpdir(), `ragsync-broker-${options.label}-`));
    const broker = new OwnBroker(dir, await freePort(), await freePort(), options.workerListener ? await freePort() : undefined, options.workerListener?.advertisedPort);
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(broker.propertiesFile, broker.properties());
    writeFileSync(join(dir, 'log4j.properties'), `log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=${join(dir, 'server.log')}\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n`);
    const format = spawnSync('java', [...broker.javaOptions(), 'kafka.tools.StorageTool', 'format', `--cluster-id=${newClusterId()}`, '-c', broker.propertiesFile], { encoding: 'utf8' });
    if (format.status !== 0) throw new Error(`formatting the test broker's storage failed (is the stack installed under ${layout.kafkaHome}?): ${(format.stderr || format.stdout).trim().split('\n').pop()}`);
    await broker.restart();
    return broker;
  }

  /** Bootstrap address for the test's own clients (the direct listener). */
  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Bootstrap address for workers: through the advertised worker listener when there is one. */
  get workerBrokers(): string {
    return this.advertisedWorkerPort === undefined ? this.brokers : `127.0.0.1:${this.advertisedWorkerPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  private get propertiesFile(): string {
    return join(this.dir, 'server.properties');
  }

  private javaOptions(): string[] {
    return [`-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`, '-cp', `${join(stackLayout().kafkaHome, 'libs')}/*`];
  }

  private properties(): string {
    const listeners = [`PLAINTEXT://127.0.0.1:${this.port}`, `CONTROLLER://127.0.0.1:${this.controllerPort}`];
    const advertised = [`PLAINTEXT://127.0.0.1:${this.port}`];
    if (this.workerPort !== undefined) {
      listeners.push(`WORKERS://127.0.0.1:${this.workerPort}`);
      advertised.push(`WORKERS://127.0.0.1:${this.advertisedWorkerPort}`);
    }
    return [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
      `listeners=${listeners.join(',')}`,
      `advertised.listeners=${advertised.join(',')}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,WORKERS:PLAINTEXT',
      // The broker reaches itself directly, never through the proxy a test cuts.
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(this.dir, 'data')}`,
      'num.partitions=1',
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=1',
      // Fewer offsets partitions than the default 50: the broker restarts several times per test.
      'offsets.topic.num.partitions=6',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n');
  }

  /** Starts the broker on its data dir and ports (again); resolves once it answers a metadata request. */
  async restart(timeoutMs = 120_000): Promise<void> {
    if (this.child) throw new Error('the test broker is already running');
    const out = openSync(join(this.dir, 'stdout.log'), 'a');
    const child = spawn('java', ['-Xms128m', '-Xmx512m', '-XX:+UseG1GC', '-XX:TieredStopAtLevel=1', ...this.javaOptions(), 'kafka.Kafka', this.propertiesFile], { cwd: this.dir, stdio: ['ignore', out, out] });
    closeSync(out);
    this.child = child;
    this.starts += 1;
    running.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    while (!(await kafkaAnswers([this.brokers], 2000))) {
      if (this.child !== child) throw new Error(`the test broker exited during start-up; see ${this.logFile}`);
      if (Date.now() > deadline) throw new Error(`the test broker did not answer within ${timeoutMs / 1000} s; see ${this.logFile}`);
      await sleep(300);
    }
    if (this.starts === 1) await this.warmUp(deadline);
  }

  /**
   * Waits until the group coordinator answers (its first FindCoordinator creates the offsets
   * topic): a consumer that joins a brand-new cluster before that can crash for good, which would
   * be a fault of the test's setup, not one it injects.
   */
  private async warmUp(deadline: number): Promise<void> {
    const admin = new Kafka({ clientId: 'own-broker-warm-up', brokers: [this.brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await admin.connect();
    try {
      for (;;) {
        try {
          await admin.describeGroups(['own-broker-warm-up']);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`the test broker's group coordinator did not answer: ${(error as Error).message}`);
          await sleep(300);
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** SIGKILL: no shutdown, no flush, as a crash or the OOM killer stops it. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a controlled shutdown), SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the broker and removes its data. */
  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`, which the test can cut: while cut, nothing passes
 * either way and new connections are accepted but go nowhere (as when packets are dropped: no
 * reset, the peers just hear nothing); healed, what waited is delivered and the pending
 * connections are made, as TCP's retransmissions would after a real cut. A peer that closes its
 * side closes the other.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  private cutAt: number | undefined;
  target: number | undefined;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(port = 0): Promise<TcpProxy> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  get isCut(): boolean {
    return this.cutAt !== undefined;
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    const pair: { client: Socket; upstream: Socket | undefined } = { client, upstream: undefined };
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', close);
    client.on('close', close);
    if (!this.isCut) this.link(pair, close);
  }

  private link(pair: { client: Socket; upstream: Socket | undefined }, close: () => void): void {
    if (this.target === undefined) return close();
    const upstream = connect(this.target, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', close);
    upstream.on('close', close);
    // By hand rather than pipe(): pipe resumes a paused source on 'drain', which would leak through a cut.
    pair.client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => pair.client.write(chunk));
    pair.client.on('end', close);
    upstream.on('end', close);
    pair.client.resume();
  }

  /** Stops every byte, both ways, on every connection, and links no new one. */
  cut(): void {
    if (this.isCut) return;
    this.cutAt = Date.now();
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream?.pause();
    }
  }

  /** Lets everything through again; returns how long the cut lasted, in ms. */
  heal(): number {
    if (this.cutAt === undefined) return 0;
    const lasted = Date.now() - this.cutAt;
    this.cutAt = undefined;
    for (const pair of [...this.pairs]) {
      if (pair.upstream) {
        pair.client.resume();
        pair.upstream.resume();
      } else {
        this.link(pair, () => {
          this.pairs.delete(pair);
          pair.client.destroy();
          pair.upstream?.destroy();
        });
      }
    }
    return lasted;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }
}
