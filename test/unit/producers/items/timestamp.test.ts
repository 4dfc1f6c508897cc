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

describe('parseTimestampMicros bounds', () => {
  it('refuses a day the calendar does not have instead of rolling it over', () => {
    for (const text of ['2026-02-30T10:00:00Z', '2026-02-29 00:00:00', '2026-04-31T00:00:00+02:00', '2026-13-01T00:00:00Z', '2026-06-15T24:00:00Z', '2026-06-15T23:60:00Z']) {
      expect(parseTimestampMicros(text), text).toEqual({ ok: false, message: `not a valid date-time: "${text}"` });
    }
    expect(micros('2024-02-29T23:59:59Z')).toBe(BigInt(Date.UTC(2024, 1, 29, 23, 59, 59)) * 1000n);
  });

  it('refuses a time before 2000-01-01, the documented floor, in every spelling', () => {
    for (const raw of ['1900-01-01T00:00:00Z', '1999-12-31T23:59:59Z', 0, 946684799, '946684799999']) {
      const result = parseTimestampMicros(raw);
      expect(result.ok, String(raw)).toBe(false);
      expect(!result.ok && result.message, String(raw)).toMatch(/is before 2000-01-01T00:00:00.000Z, the earliest time accepted/);
    }
    expect(micros(946684800)).toBe(BigInt(Date.UTC(2000, 0, 1)) * 1000n);
  });
});
