import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { extract as untar } from 'tar';
import type { StackLayout } from './layout.js';
import { extractEntries, fetchArtifact, type Artifact } from './maven-central.js';
import { MissingPrerequisite } from './prerequisites.js';

/**
 * The programs the local stack runs besides Java, found on the machine or fetched from Maven
 * Central on first use, so `stack up` needs nothing installed but Node and Java. A program on the
 * PATH wins (a Debian `maven` or `redis-server` stays a choice); a fetched one lives under
 * `.stack/dist` and is fetched once.
 */
export const MAVEN_VERSION = '3.9.11';

/** The Redis server binaries one Maven Central artifact ships per platform (Redis 6.2). */
const REDIS_ARTIFACT: Artifact = { group: 'com.github.codemonstur', artifact: 'embedded-redis', version: '1.4.4', extension: 'jar' };
const REDIS_BINARIES: Record<string, string> = {
  'linux-x64': 'redis-server-6.2.6-v5-linux-amd64',
  'linux-arm64': 'redis-server-6.2.7-linux-arm64',
  'darwin-x64': 'redis-server-6.2.6-v5-darwin-amd64',
  'darwin-arm64': 'redis-server-6.2.6-v5-darwin-arm64',
};

function runs(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return !result.error && result.status === 0;
}

export interface EnsureOptions {
  /** Take the program from the PATH when it is there. @defaultValue true */
  usePath?: boolean;
}

/** `mvn` on the PATH, else Apache Maven fetched from Maven Central into `.stack/dist`. */
export async function ensureMaven(layout: StackLayout, log: (line: string) => void, options: EnsureOptions = {}): Promise<string> {
  if (options.usePath !== false && runs('mvn', ['-v'])) return 'mvn';
  const home = join(layout.dist, `apache-maven-${MAVEN_VERSION}`);
  const command = join(home, 'bin', 'mvn');
  if (!existsSync(command)) {
    const archive = await fetchArtifact(layout.mavenRepo, { group: 'org.apache.maven', artifact: 'apache-maven', version: MAVEN_VERSION, classifier: 'bin', extension: 'tar.gz' }, log);
    const staging = `${home}.partial`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    await untar({ file: archive, cwd: staging, strip: 1 });
    if (!existsSync(join(staging, 'bin', 'mvn'))) throw new Error(`${archive} holds no bin/mvn`);
    renameSync(staging, home);
  }
  return command;
}

/** `redis-server` on the PATH, else the binary for this platform from Maven Central. */
export async function ensureRedis(layout: StackLayout, log: (line: string) => void, options: EnsureOptions = {}): Promise<string> {
  if (options.usePath !== false && runs('redis-server', ['--version'])) return 'redis-server';
  const platform = `${process.platform}-${process.arch}`;
  const entry = REDIS_BINARIES[platform];
  if (!entry) throw new MissingPrerequisite(`redis-server not found, and no Redis binary is published for ${platform}: install Redis (Debian: apt-get install redis-server)`);
  const dir = join(layout.dist, 'redis-6.2');
  const binary = join(dir, 'redis-server');
  if (!existsSync(binary)) {
    const jar = await fetchArtifact(layout.mavenRepo, REDIS_ARTIFACT, log);
    mkdirSync(dir, { recursive: true });
    const partial = `${binary}.part`;
    await extractEntries(jar, { [entry]: partial });
    chmodSync(partial, 0o755);
    renameSync(partial, binary);
  }
  if (!runs(binary, ['--version'])) {
    throw new MissingPrerequisite(`${binary} does not run on this machine (it needs libssl 3): install Redis instead (Debian: apt-get install redis-server)`);
  }
  return binary;
}
