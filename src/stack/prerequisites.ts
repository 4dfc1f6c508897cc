import { spawnSync } from 'node:child_process';

/** One-line causes for what `stack up` cannot do without; checked before anything starts. */
export class MissingPrerequisite extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPrerequisite';
  }
}

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) return { ok: false, output: '' };
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

export function javaMajorVersion(): number | undefined {
  const { ok, output } = run('java', ['-version']);
  if (!ok) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

export function checkJava(): void {
  const major = javaMajorVersion();
  if (major === undefined) throw new MissingPrerequisite('java not found: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)');
  if (major < 17) throw new MissingPrerequisite(`java ${major} found, Kafka ${'3.9'} and Apicurio need 17+: install openjdk-17-jre-headless`);
}



