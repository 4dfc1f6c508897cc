import { describe, expect, it } from 'vitest';
import { createVersionClock, stampVersions } from '../../../../src/producers/magento/version-clock.js';

const MS = 1_000_000n;
/** 2026-03-14T09:15:00Z, a whole second as the module sends it. */
const SECOND_MS = Date.UTC(2026, 2, 14, 9, 15, 0);
const secondMicros = BigInt(SECOND_MS) * 1000n;
const same = (n: number, micros = secondMicros) => Array.from({ length: n }, () => micros);

/** A clock whose reading the test moves by hand. */
function manualClock(startMs: number, maxLeadSeconds = 0) {
  let nowMs = startMs;
  const clock = createVersionClock({ maxLeadSeconds, now: () => nowMs });
  return { clock, advance: (ms: number) => (nowMs += ms), set: (ms: number) => (nowMs = ms) };
}

describe('Magento source versions', () => {
  it('ranks every item of a later request above every item of an earlier one with the same timestamp', () => {
    // One queue flush of 120 items sent as 50 + 50 + 20, all stamped with the same second.
    const { clock, advance } = manualClock(SECOND_MS + 300);
    const first = clock.stamp(same(50)).versions;
    advance(40);
    const second = clock.stamp(same(50)).versions;
    advance(35);
    const third = clock.stamp(same(20)).versions;

    // Product X at index 30 of the first request, saved again and sent at index 5 of the second.
    expect(second[5]!).toBeGreaterThan(first[30]!);
    expect(third[0]!).toBeGreaterThan(second[49]!);
    expect(Math.min(...second.map(Number))).toBeGreaterThan(Math.max(...first.map(Number)));
    // The rule this replaces, timestamp µs × 1000 + index, ranked the older save first.
    const timestampRule = (index: number) => secondMicros * 1000n + BigInt(index);
    expect(timestampRule(30)).toBeGreaterThan(timestampRule(5));
  });

  it('keeps the index as the order within a request', () => {
    const { clock } = manualClock(SECOND_MS + 300);
    const versions = clock.stamp(same(4)).versions;
    expect(versions).toEqual([0n, 1n, 2n, 3n].map((i) => BigInt(SECOND_MS + 300) * MS + i));
  });

  it('still goes up when two requests are read in the same millisecond or the clock steps back', () => {
    const { clock, set } = manualClock(SECOND_MS + 300);
    const a = clock.stamp(same(3)).versions;
    const b = clock.stamp(same(3)).versions;
    set(SECOND_MS - 2000);
    const c = clock.stamp(same(3)).versions;
    expect(b[0]).toBe(a[2]! + 1n);
    expect(c[0]).toBe(b[2]! + 1n);
  });

  it('orders two replicas by their clocks, not by the shared timestamp', () => {
    // The load balancer sends the first request of a flush to one replica, the second to another.
    const a = manualClock(SECOND_MS + 300).clock;
    const b = manualClock(SECOND_MS + 340).clock;
    const first = a.stamp(same(50)).versions;
    const second = b.stamp(same(50)).versions;
    expect(second[0]!).toBeGreaterThan(first[49]!);
  });

  it('gives a batch resent after a 503 fresh versions above those of its first delivery', () => {
    const { clock, advance } = manualClock(SECOND_MS + 300);
    const attempt = clock.stamp(same(2)).versions;
    advance(5 * 60_000);
    const resend = clock.stamp(same(2)).versions;
    expect(resend[0]!).toBeGreaterThan(attempt[1]!);
  });

  describe('when the sender clock is ahead', () => {
    it('follows a source time within the allowed lead, and an item\'s own time over the body\'s', () => {
      const { clock } = manualClock(SECOND_MS - 3000, 5);
      const updatedAt = secondMicros + 250_000n;
      const result = clock.stamp([secondMicros, updatedAt]);
      expect(result.versions).toEqual([secondMicros * 1000n, updatedAt * 1000n]);
      expect(result.capped).toBe(0);
      expect(result.sourceLeadMicros).toBe(3_250_000n);
    });

    it('caps a source time beyond the lead at the clock plus the lead', () => {
      const { clock } = manualClock(SECOND_MS, 5);
      const result = clock.stamp([secondMicros + 60_000_000n]);
      expect(result.versions).toEqual([BigInt(SECOND_MS + 5000) * MS]);
      expect(result).toMatchObject({ capped: 1, sourceLeadMicros: 60_000_000n });
    });

    it('ignores the source time ahead of the clock with the default lead of 0', () => {
      const { clock } = manualClock(SECOND_MS);
      expect(clock.stamp([secondMicros + 2_000_000n]).versions).toEqual([BigInt(SECOND_MS) * MS]);
    });

    it('lets no far-future timestamp outrank the real updates after it, and stays inside a signed 64-bit long', () => {
      const { clock, advance } = manualClock(SECOND_MS, 60);
      // The largest epoch value the timestamp parser takes: 1e17 µs, the year 5138.
      const bogus = clock.stamp([99_999_999_999_999_999n]).versions[0]!;
      expect(bogus).toBeLessThanOrEqual(BigInt(SECOND_MS + 60_000) * MS);
      expect(bogus).toBeLessThan(2n ** 63n - 1n);
      advance(1000);
      const real = clock.stamp([secondMicros + 1_000_000n]).versions[0]!;
      expect(real).toBeGreaterThan(bogus);
    });
  });

  it('is a pure function of the previous version, the arrival time and the lead', () => {
    const arrivalNanos = BigInt(SECOND_MS) * MS;
    expect(stampVersions([secondMicros, secondMicros], { previous: arrivalNanos + 10n, arrivalNanos, maxLeadNanos: 0n })).toEqual({
      versions: [arrivalNanos + 11n, arrivalNanos + 12n],
      previous: arrivalNanos + 12n,
      capped: 0,
      leadNanos: 0n,
    });
  });
});
