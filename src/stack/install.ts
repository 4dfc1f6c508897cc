import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { extract as untar } from 'tar';
import { APICURIO_VERSION, KAFKA_VERSION, PROJECT_ROOT, type StackLayout } from './layout.js';
import { fetchArtifact } from './maven-central.js';
import { ensureMaven } from './tools.js';

/**
 * Downloads the stack's distributions from Maven Central on first use. Maven keeps them in its
 * local repository, so later installs (and fresh `.stack/` folders) do not download again.
 */
async function mvn(layout: StackLayout, args: string[], what: string, log: (line: string) => void): Promise<void> {
  const command = await ensureMaven(layout, log);
  log(`fetching ${what} from Maven Central (first run only)…`);
  const result = spawnSync(command, ['-B', '-q', `-Dmaven.repo.local=${layout.mavenRepo}`, ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) {
    const detail = `${result.stdout}${result.stderr}`.split('\n').find((l) => l.includes('ERROR')) ?? 'see mvn output';
    throw new Error(`could not fetch ${what}: ${detail.trim()}`);
  }
}

export async function installKafka(layout: StackLayout, log: (line: string) => void): Promise<void> {
  const libs = join(layout.kafkaHome, 'libs');
  if (existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) return;
  await mvn(layout, ['-f', join(PROJECT_ROOT, 'stack', 'pom.xml'), `-Dstack.dir=${layout.root}`, 'package'], `Apache Kafka ${KAFKA_VERSION}`, log);
  if (!existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) throw new Error(`Kafka jars missing in ${libs} after download`);
}

export async function installApicurio(layout: StackLayout, log: (line: string) => void): Promise<void> {
  const runner = join(layout.apicurioHome, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
  if (existsSync(runner)) return;
  // Its parent POM is not on Maven Central, so Maven cannot resolve it (not even alone, with
  // dependency:get): the archive is fetched directly.
  const archive = await fetchArtifact(layout.mavenRepo, { group: 'io.apicurio', artifact: 'apicurio-registry-app', version: APICURIO_VERSION, classifier: 'all', extension: 'tar.gz' }, log);
  const staging = `${layout.apicurioHome}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await untar({ file: archive, cwd: staging });
  } catch (error) {
    throw new Error(`could not unpack ${archive}: ${(error as Error).message}`);
  }
  if (!readdirSync(staging).some((f) => f.endsWith('-runner.jar'))) throw new Error(`${archive} holds no runner jar`);
  renameSync(staging, layout.apicurioHome);
}
