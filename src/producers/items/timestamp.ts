/**
 * Reads a sender's event time as microseconds since the epoch. Accepted spellings:
 * - ISO 8601 / RFC 3339 (`2026-01-02T10:30:00Z`, `2026-01-02T10:30:00.123456+02:00`); fractions
 *   down to microseconds are kept. Magento's `2026-01-02 10:30:00` (no zone) is read as UTC.
 * - a number or numeric string: seconds (below 1e11, fractions allowed), milliseconds (below
 *   1e14) or microseconds (below 1e17), told apart by magnitude.
 * Returns a message instead when the value is none of these.
 */
export function parseTimestampMicros(raw: unknown): { ok: true; micros: bigint } | { ok: false; message: string } {
  if (raw === undefined || raw === null || raw === '') return { ok: false, message: 'is required' };
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()))) {
    return fromNumber(typeof raw === 'number' ? raw : Number(raw.trim()), raw);
  }
  if (typeof raw !== 'string') return { ok: false, message: `expected an ISO 8601 date-time or epoch number, got ${typeof raw}` };
  return fromIso(raw.trim());
}

function fromNumber(value: number, raw: unknown): { ok: true; micros: bigint } | { ok: false; message: string } {
  if (!Number.isFinite(value) || value < 0) return { ok: false, message: `not a valid epoch time: ${String(raw)}` };
  if (value < 1e11) return { ok: true, micros: BigInt(Math.round(value * 1e6)) };
  if (value < 1e14) return { ok: true, micros: BigInt(Math.round(value * 1e3)) };
  if (value < 1e17) return { ok: true, micros: BigInt(Math.round(value)) };
  return { ok: false, message: `epoch time too large: ${String(raw)}` };
}

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function fromIso(text: string): { ok: true; micros: bigint } | { ok: false; message: string } {
  const match = ISO.exec(text);
  if (!match) return { ok: false, message: `expected an ISO 8601 date-time or epoch number, got "${text.slice(0, 40)}"` };
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const offset = zone === 'Z' || zone === 'z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const seconds = time!.length === 5 ? `${time}:00` : time;
  const ms = Date.parse(`${date}T${seconds}${offset}`);
  if (Number.isNaN(ms)) return { ok: false, message: `not a valid date-time: "${text}"` };
  const micros = BigInt(ms) * 1000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
  return { ok: true, micros };
}
