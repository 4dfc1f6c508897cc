import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { stackLayout, type StackLayout } from '../../../src/stack/layout.js';
import { artifactPath, fetchArtifact } from '../../../src/stack/maven-central.js';
import { portOpen } from '../../../src/stack/processes.js';
import { ensureMaven, ensureRedis, MAVEN_VERSION } from '../../../src/stack/tools.js';

/**
 * The tools `stack up` fetches when the machine lacks them, fetched for real from Maven Central
 * (into the shared local Maven repository, so only the first run downloads) and then run.
 */
describe('the stack tools fetched from Maven Central', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-tools-'));
  const layout: StackLayout = { ...stackLayout(), dist: join(dir, 'dist') };
  const lines: string[] = [];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a Redis server from the published binary when none is installed', async () => {
    const binary = await ensureRedis(layout, (line) => lines.push(line), { usePath: false });
    expect(binary).toBe(join(layout.dist, 'redis-6.2', 'redis-server'));
    let port = 0;
    for (port = 26_379; await portOpen(port); port++);
    const server = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    try {
      for (let tries = 0; !(await portOpen(port)) && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
      await client.connect();
      await client.set('ragsync:probe', 'stored');
      expect(await client.get('ragsync:probe')).toBe('stored');
      // The ERP bridge reads consumer-group streams: the fetched server must have them.
      await client.xadd('ragsync:stream', '*', 'field', 'value');
      await client.xgroup('CREATE', 'ragsync:stream', 'bridge', '0');
      const read = (await client.xreadgroup('GROUP', 'bridge', 'worker', 'STREAMS', 'ragsync:stream', '>')) as Array<[string, Array<[string, string[]]>]>;
      expect(read[0]![1]).toHaveLength(1);
    } finally {
      client.disconnect();
      server.kill();
    }
    // A second call fetches nothing.
    const before = lines.length;
    expect(await ensureRedis(layout, (line) => lines.push(line), { usePath: false })).toBe(binary);
    expect(lines.length).toBe(before);
  });

  it('runs Apache Maven from its published distribution when none is installed', async () => {
    const mvn = await ensureMaven(layout, (line) => lines.push(line), { usePath: false });
    expect(mvn).toBe(join(layout.dist, `apache-maven-${MAVEN_VERSION}`, 'bin', 'mvn'));
    const version = spawnSync(mvn, ['-v'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toContain(`Apache Maven ${MAVEN_VERSION}`);
  });
});

describe('fetching an artifact', () => {
  const artifact = { group: 'dev.ragsync.probe', artifact: 'probe', version: '1.0', extension: 'jar' };
  const dir = mkdtempSync(join(tmpdir(), 'ragsync-fetch-'));
  let server: Server | undefined;
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
    delete process.env.RAGSYNC_MAVEN_URL;
  });

  async function repository(body: Buffer, sha1: string): Promise<string> {
    server = createServer((request, response) => {
      if (request.url === `/${artifactPath(artifact)}`) response.end(body);
      else if (request.url === `/${artifactPath(artifact)}.sha1`) response.end(`${sha1}  probe-1.0.jar\n`);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    return `http://127.0.0.1:${address.port}/`;
  }

  it('keeps nothing when the bytes do not match the published SHA-1, and says so', async () => {
    const body = Buffer.from('the real bytes');
    process.env.RAGSYNC_MAVEN_URL = await repository(Buffer.from('other bytes'), createHash('sha1').update(body).digest('hex'));
    await expect(fetchArtifact(dir, artifact, () => undefined)).rejects.toThrow(/SHA-1 [0-9a-f]{40} does not match the published [0-9a-f]{40}; nothing was kept/);
    expect(existsSync(join(dir, artifactPath(artifact)))).toBe(false);
    expect(readdirSync(join(dir, 'dev', 'ragsync', 'probe', 'probe', '1.0'))).toEqual([]);
  });
});
