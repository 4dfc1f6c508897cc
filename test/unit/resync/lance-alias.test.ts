import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ALIAS_FILE, LanceAliasPointer, readLanceAliases, writeLanceAlias } from '../../../src/stores/lancedb/alias.js';
import { onlyInScope } from '../../../src/resync/resync-pipeline.js';
import type { StageDefinition } from '../../../src/core/stage.js';

describe('the LanceDB alias file', () => {
  const dirs: string[] = [];
  const dir = () => {
    const made = mkdtempSync(join(tmpdir(), 'ragsync-alias-'));
    dirs.push(made);
    return made;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('leaves a name without an entry standing for its own table', async () => {
    const path = dir();
    expect(await readLanceAliases(path)).toEqual({});
    expect(await new LanceAliasPointer(path, 'ragsync').resolve()).toBe('ragsync');
  });

  it('is followed within the TTL after a switch, and says what it pointed at before', async () => {
    const path = dir();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(1_000_000);
      const pointer = new LanceAliasPointer(path, 'ragsync', 1000);
      expect(await pointer.resolve()).toBe('ragsync');
      expect(await writeLanceAlias(path, 'ragsync', 'ragsync_v2')).toBe('ragsync');
      vi.setSystemTime(1_000_999);
      expect(await pointer.resolve()).toBe('ragsync');
      vi.setSystemTime(1_001_000);
      expect(await pointer.resolve()).toBe('ragsync_v2');
    } finally {
      vi.useRealTimers();
    }
    expect(await writeLanceAlias(path, 'ragsync', 'ragsync_v3')).toBe('ragsync_v2');
  });

  it('holds writes until the hold is lifted', async () => {
    const path = dir();
    await writeLanceAlias(path, 'ragsync', 'ragsync_v2', Date.now() + 60_000);
    const pointer = new LanceAliasPointer(path, 'ragsync', 20);
    let writable = false;
    const waiting = pointer.writable().then(() => (writable = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(writable).toBe(false);
    await writeLanceAlias(path, 'ragsync', 'ragsync_v2');
    await waiting;
    expect(writable).toBe(true);
  });

  it('refuses a file that is not an object of names, naming the file', async () => {
    const path = dir();
    writeFileSync(join(path, ALIAS_FILE), '["ragsync"]');
    await expect(readLanceAliases(path)).rejects.toThrow(`lancedb alias file ${join(path, ALIAS_FILE)} is not a JSON object of names`);
  });
});

describe('a stage limited to a scope', () => {
  it('acknowledges records out of scope without handing them to the stage', async () => {
    const seen: string[] = [];
    const stage: StageDefinition = {
      name: 'chunk',
      group: 'chunk',
      inputs: ['documents'],
      process: async (records) => records.map((r) => (seen.push(r.key), { ok: true as const, outputs: [{ topic: 'chunks', key: r.key, value: null, sourceVersion: 1n, occurredAt: 0 }] })),
    };
    const limited = onlyInScope(stage, (key) => key.startsWith('shop/'));
    const record = (key: string) => ({ topic: 'documents', partition: 0, offset: '0', key, value: null, headers: {}, sourceVersion: 1n, occurredAt: 0 });
    const results = await limited.process([record('shop/product/a/1'), record('other/product/b/1'), record('shop/product/c/1')], { heartbeat: async () => undefined, isStale: () => false });
    expect(seen).toEqual(['shop/product/a/1', 'shop/product/c/1']);
    expect(results.map((r) => (r.ok ? r.outputs.length : -1))).toEqual([1, 0, 1]);
    expect(limited.group).toBe('chunk');
  });
});
