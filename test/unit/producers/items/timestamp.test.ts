import { describe, expect, it } from 'vitest';
import { parseTimestampMicros } from '../../../../src/producers/items/timestamp.js';

const micros = (raw: unknown) => {
  const result = parseTimestampMicros(raw);
  if (!result.ok) throw new Error(result.message);
  return result.micros;
};

describe('parseTimestampMicros', () => {
  it('reads an ISO date-time in UTC', () => {
    expect(micros('2026-01-02T10:30:00Z')).toBe(BigInt(Date.UTC(2026, 0, 2, 10, 30)) * 1000n);
  });

  it('keeps microseconds of a fractional ISO date-time', () => {
    expect(micros('2026-01-02T10:30:00.123456Z') % 1_000_000n).toBe(123_456n);
  });

  it('applies a zone offset', () => {
    expect(micros('2026-01-02T12:30:00+02:00')).toBe(micros('2026-01-02T10:30:00Z'));
  });

  it('reads the MySQL spelling without a zone as UTC', () => {
    expect(micros('2026-01-02 10:30:00')).toBe(micros('2026-01-02T10:30:00Z'));
  });

  it('tells epoch seconds, milliseconds and microseconds apart by magnitude', () => {
    const expected = micros('2026-01-02T10:30:00Z');
    expect(micros(1767349800)).toBe(expected);
    expect(micros('1767349800')).toBe(expected);
    expect(micros(1767349800000)).toBe(expected);
    expect(micros(1767349800000000)).toBe(expected);
  });

  it('refuses a missing, negative or unreadable timestamp', () => {
    expect(parseTimestampMicros(undefined)).toEqual({ ok: false, message: 'is required' });
    expect(parseTimestampMicros(-5).ok).toBe(false);
    expect(parseTimestampMicros('yesterday').ok).toBe(false);
    expect(parseTimestampMicros({}).ok).toBe(false);
  });
});
