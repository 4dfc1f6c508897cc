import { Session } from 'node:inspector/promises';
import { describe, expect, it } from 'vitest';
import { placeOf, summarize } from '../../../bench/report/profile.js';

function spinForHashing(ms: number): number {
  const end = performance.now() + ms;
  let h = 0;
  while (performance.now() < end) for (let i = 0; i < 10_000; i++) h = (Math.imul(h, 31) + i) | 0;
  return h;
}

describe('the CPU profile summary', () => {
  it('names the function that was busy, with its file, and counts idle time out of busy time', async () => {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    spinForHashing(300);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();

    const summary = summarize('CPU.test.cpuprofile', profile as Parameters<typeof summarize>[1], 5);
    const top = summary.functions[0]!;
    expect(top.name).toMatch(/^spinForHashing test\/unit:\d+$/);
    expect(top.ms).toBeGreaterThan(150);
    // The 200 ms timer wait is idle: sampled, not busy.
    expect(summary.wallMs - summary.busyMs).toBeGreaterThan(100);
    expect(summary.busyMs).toBeLessThan(summary.wallMs);
  });

  it('groups frames by package, project folder or Node module', () => {
    expect(placeOf('file:///app/node_modules/kafkajs/src/protocol/crc32.js')).toBe('kafkajs');
    expect(placeOf('file:///app/node_modules/@lancedb/lancedb/dist/table.js')).toBe('@lancedb/lancedb');
    expect(placeOf('file:///app/node_modules/.pnpm/x/node_modules/avsc/lib/types.js')).toBe('avsc');
    expect(placeOf('file:///work/main/src/kafka/stage-runner.ts')).toBe('src/kafka');
    expect(placeOf('node:internal/streams/readable')).toBe('node:internal');
    expect(placeOf('')).toBe('(native)');
  });
});
