import { isCalendarDate } from './fields.js';

/**
 * The earliest event time any connector accepts: 2000-01-01T00:00:00Z. Nothing ragsync indexes
 * changed before it (Magento 2 appeared in 2015), while a wrong unit or a zero clock lands before
 * it (epoch 0, a count of seconds read as milliseconds, Magento's `0000-00-00`). Versions derived
 * from a time before it could even be negative.
 */
export const EARLIEST_EVENT_MICROS = BigInt(Date.UTC(2000, 0, 1)) * 1000n;

export type TimestampResult = { ok: true; micros: bigint } | { ok: false; message: string };

/**
 * Reads a sender's event time as microseconds since the epoch. Accepted spellings:
 * - ISO 8601 / RFC 3339 (`2026-01-02T10:30:00Z`, `2026-01-02T10:30:00.123456+02:00`); fractions
 *   down to microseconds are kept. Magento's `2026-01-02 10:30:00` (no zone) is read as UTC.
 * - a number or numeric string: seconds (below 1e11, fractions allowed), milliseconds (below
 *   1e14) or microseconds (below 1e17), told apart by magnitude.
 * Returns a message instead when the value is none of these, names a day the calendar does not
 * have (`2026-02-30` is refused, not rolled over to March), or lies before
 * {@link EARLIEST_EVENT_MICROS}. How far into the future a time may lie is the caller's window
 * ({@link checkEventTime}).
 */
export function parseTimestampMicros(raw: unknown): TimestampResult {
  if (raw === undefined || raw === null || raw === '') return { ok: false, message: 'is required' };
  let result: TimestampResult;
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d{1,20}(\.\d{1,20})?$/.test(raw.trim()))) {
    result = fromNumber(typeof raw === 'number' ? raw : Number(raw.trim()), raw);
  } else if (typeof raw !== 'string') {
    return { ok: false, message: `expected an ISO 8601 date-time or epoch number, got ${Array.isArray(raw) ? 'a list' : typeof raw}` };
  } else {
    result = fromIso(raw.trim());
  }
  if (result.ok && result.micros < EARLIEST_EVENT_MICROS) {
    return { ok: false, message: `${isoOf(result.micros)} is before ${isoOf(EARLIEST_EVENT_MICROS)}, the earliest time accepted` };
  }
  return result;
}

/** Bounds of an event time relative to the receiving clock. */
export interface EventTimeWindow {
  /** The receiving clock, epoch milliseconds. */
  nowMs: number;
  /** How far ahead of `nowMs` a time may lie (config `ingress.maxFutureSeconds`). */
  maxFutureSeconds: number;
}

/**
 * A time further ahead of the receiving clock than the window allows, as a message; undefined
 * when it is within. A time far in the future would stand as the entity's `occurred_at` (and, for
 * senders whose versions follow their times, outrank every real update until the clock caught up).
 */
export function checkEventTime(micros: bigint, window: EventTimeWindow): string | undefined {
  const limit = (BigInt(Math.floor(window.nowMs)) + BigInt(window.maxFutureSeconds) * 1000n) * 1000n;
  if (micros <= limit) return undefined;
  return `${isoOf(micros)} is more than ${window.maxFutureSeconds} s ahead of the server clock (${isoOf(BigInt(Math.floor(window.nowMs)) * 1000n)}); check the sender's clock`;
}

/** parseTimestampMicros and checkEventTime in one. */
export function parseEventTime(raw: unknown, window: EventTimeWindow): TimestampResult {
  const parsed = parseTimestampMicros(raw);
  if (!parsed.ok) return parsed;
  const ahead = checkEventTime(parsed.micros, window);
  return ahead === undefined ? parsed : { ok: false, message: ahead };
}

function isoOf(micros: bigint): string {
  const ms = Number(micros / 1000n);
  // Far outside Date's range (±8.64e15 ms) there is no ISO text to show.
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${micros} µs since the epoch`;
}

function fromNumber(value: number, raw: unknown): TimestampResult {
  if (!Number.isFinite(value) || value < 0) return { ok: false, message: `not a valid epoch time: ${String(raw)}` };
  if (value < 1e11) return { ok: true, micros: BigInt(Math.round(value * 1e6)) };
  if (value < 1e14) return { ok: true, micros: BigInt(Math.round(value * 1e3)) };
  if (value < 1e17) return { ok: true, micros: BigInt(Math.round(value)) };
  return { ok: false, message: `epoch time too large: ${String(raw)}` };
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d{1,9}))?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function fromIso(text: string): TimestampResult {
  const match = ISO.exec(text);
  if (!match) return { ok: false, message: `expected an ISO 8601 date-time or epoch number, got "${text.slice(0, 40).replace(/\p{Cs}/gu, '\ufffd')}"` };
  const [, year, month, day, hour, minute, second = '00', fraction = '', zone = 'Z'] = match;
  // Date.parse rolls a day the month does not have over into the next month; refuse it instead.
  if (!isCalendarDate(Number(year), Number(month), Number(day)) || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
    return { ok: false, message: `not a valid date-time: "${text}"` };
  }
  const offset = zone === 'Z' || zone === 'z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${offset}`);
  if (Number.isNaN(ms)) return { ok: false, message: `not a valid date-time: "${text}"` };
  const micros = BigInt(ms) * 1000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
  return { ok: true, micros };
}
