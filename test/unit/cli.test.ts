import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram, runCli } from '../../src/cli/program.js';

/** Runs the command line in this process and returns its exit code and what it wrote. */
async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(['node', 'ragsync', ...args], { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  return { code, out, err };
}

describe('the ragsync command line', () => {
  it('lists every command with one line each in --help, within 80 columns', async () => {
    const { code, out, err } = await cli('--help');
    expect(code).toBe(0);
    expect(err).toBe('');
    const lines = out.split('\n');
    const commandLines = lines.slice(lines.indexOf('Commands:') + 1).filter((l) => l.trim() !== '');
    const names = buildProgram().commands.map((c) => c.name());
    expect(names.length).toBeGreaterThan(10);
    // One line per command plus `help`, none wrapped onto a second line.
    expect(commandLines).toHaveLength(names.length + 1);
    for (const [i, name] of names.entries()) {
      expect(commandLines[i]!.startsWith(`  ${name}`)).toBe(true);
      expect(commandLines[i]).toMatch(/^ {2}\S.* {2,}\S/);
    }
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
  });

  it.each([
    [['bogus'], "error: unknown command 'bogus'"],
    [['stack', 'up', '--bogus'], "error: unknown option '--bogus'"],
    [['search'], "error: missing required argument 'query'"],
    [['search', '--limit', 'many', 'tent'], 'error: option'],
    [['run', 'mapp'], 'error: unknown stage mapp: expected map, chunk, embed, store, push-shopware, push-shopware-price, push-shopware-stock, push-woocommerce, push-woocommerce-price, push-woocommerce-stock, push-webhook or all'],
    [['run', 'map', 'erp-bridge'], 'error: erp-bridge runs on its own'],
  ])('answers %j with a one-line error and exit code 2', async (args, message) => {
    const { code, out, err } = await cli(...args);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toContain(message);
  });

  it('exits quietly when the reader of its output goes away', async () => {
    // `ragsync topics list | head -n 0`: the pipe is closed before the command writes.
    const bin = fileURLToPath(new URL('../../bin/ragsync.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'topics', 'list'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
  }, 20_000);
});
