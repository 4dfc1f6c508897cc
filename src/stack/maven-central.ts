import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import yauzl from 'yauzl';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/**
 * Fetches single artifacts from Maven Central over HTTPS, for what the stack needs before Maven
 * itself is there (Maven's own distribution, a Redis server binary). Files land where Maven keeps
 * them (`<local repository>/<group path>/<artifact>/<version>/`), so Maven and this share one
 * cache, and each is checked against the SHA-1 Maven Central publishes beside it.
 */
export interface Artifact {
  group: string;
  artifact: string;
  version: string;
  /** File extension, e.g. `jar` or `tar.gz`. */
  extension: string;
  classifier?: string;
}

/** Maven Central, or the mirror named by RAGSYNC_MAVEN_URL. */
export function mavenBaseUrl(): string {
  const url = process.env.RAGSYNC_MAVEN_URL?.trim();
  return (url ? url : 'https://repo.maven.apache.org/maven2').replace(/\/+$/, '');
}

/** `org/apache/maven/apache-maven/3.9.11/apache-maven-3.9.11-bin.tar.gz` */
export function artifactPath(a: Artifact): string {
  const file = `${a.artifact}-${a.version}${a.classifier ? `-${a.classifier}` : ''}.${a.extension}`;
  return [...a.group.split('.'), a.artifact, a.version, file].join('/');
}

export const artifactName = (a: Artifact): string => `${a.group}:${a.artifact}:${a.version}${a.classifier ? `:${a.classifier}` : ''}:${a.extension}`;

/**
 * The artifact in the local repository, downloaded first when missing. A download goes to a
 * temporary file and is moved into place only once its SHA-1 matches, so an interrupted or
 * corrupted download never looks like a complete one.
 */
export async function fetchArtifact(localRepo: string, a: Artifact, log: (line: string) => void): Promise<string> {
  const target = join(localRepo, artifactPath(a));
  if (existsSync(target)) return target;
  const url = `${mavenBaseUrl()}/${artifactPath(a)}`;
  log(`fetching ${artifactName(a)} from ${new URL(url).host} (first run only)…`);
  const expected = (await download(`${url}.sha1`, a)).text.trim().split(/\s+/)[0]!.toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(expected)) throw new Error(`${url}.sha1 does not hold a SHA-1 checksum`);
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.part`;
  const hash = createHash('sha1');
  try {
    const response = await request(url, a);
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    const total = Number(response.headers.get('content-length') ?? 0);
    let received = 0;
    let told = 0;
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      // A line per fifth of a large download: enough to see it move, little enough for a log.
      if (total > 5 * 1024 * 1024 && received / total >= (told + 1) / 5 && received < total) {
        told = Math.floor((received / total) * 5);
        log(`  ${Math.round((received / total) * 100)} % of ${(total / 1024 / 1024).toFixed(1)} MB`);
      }
    });
    await pipeline(body, createWriteStream(partial));
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    rmSync(partial, { force: true });
    throw new Error(`${url}: SHA-1 ${actual} does not match the published ${expected}; nothing was kept`);
  }
  renameSync(partial, target);
  return target;
}

async function request(url: string, a: Artifact): Promise<Response & { body: ReadableStream<Uint8Array> }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
  } catch (error) {
    throw new Error(`could not fetch ${artifactName(a)} from ${url}: ${(error as Error).message} (a mirror can be set with RAGSYNC_MAVEN_URL)`);
  }
  if (!response.ok || !response.body) throw new Error(`could not fetch ${artifactName(a)}: ${url} answered ${response.status} ${response.statusText}`);
  return response as Response & { body: ReadableStream<Uint8Array> };
}

async function download(url: string, a: Artifact): Promise<{ text: string }> {
  const response = await request(url, a);
  return { text: await response.text() };
}

/**
 * Writes entries of the zip (or jar) file `zipPath` to files: `entries` maps an entry name to its
 * target path. Throws naming the first entry the file does not hold.
 */
export async function extractEntries(zipPath: string, entries: Record<string, string>): Promise<void> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false });
  const left = new Map(Object.entries(entries));
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        const target = left.get(entry.fileName);
        if (target === undefined) return zip.readEntry();
        left.delete(entry.fileName);
        zip
          .openReadStreamPromise(entry)
          .then((stream) => pipeline(stream, createWriteStream(target)))
          .then(() => (left.size === 0 ? resolve() : zip.readEntry()), reject);
      });
      zip.on('end', () => (left.size === 0 ? resolve() : reject(new Error(`${zipPath} holds no ${[...left.keys()][0]}`))));
      zip.on('error', reject);
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}
