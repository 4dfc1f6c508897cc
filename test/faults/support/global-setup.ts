import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharedSetup from '../../support/global-setup.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The integration tests' setup (the local stack, the Python tools) and, at the same time, a build
 * of the package from the sources under test: the scenarios that measure a worker as the image runs it (scenario
 * 15's memory bound) start it from dist/ with RAGSYNC_USE_DIST=1, which must never be an older
 * build than the code the suite tests. It also makes the folder of the suite's CPU lane.
 */
export default async function setup(): Promise<() => void> {
  console.log('fault suite: building the package (npm run build), as the image runs it');
  // The build runs while the shared setup installs its Python tools and checks the stack.
  const build = promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`npm run build failed: ${error.stderr || error.stdout || String(error)}`);
  });
  await Promise.all([sharedSetup(), build]);
  if (!existsSync(`${ROOT}dist/cli/main.js`)) throw new Error('npm run build left no dist/cli/main.js');
  // The lane of the scenarios that keep the cores busy (support/cpu-lane.ts): the test files'
  // processes inherit the variable.
  const lane = mkdtempSync(join(tmpdir(), 'ragsync-faults-lane-'));
  process.env.RAGSYNC_FAULTS_LANE = lane;
  return () => rmSync(lane, { recursive: true, force: true });
}
