import { MAX_LIST_ENTRIES, MAX_NAME_BYTES, textProblem } from './limits.js';

/**
 * Lenient readers for upstream field values. Magento, ERPs and CSV files spell the same value in
 * several ways (`"19.90"` and `19.9`, `1`/`"1"`/`true`, a list or a `|`-separated string); each
 * reader accepts the lossless spellings and reports anything else as an issue naming the field.
 * Readers never throw, whatever the JSON holds (an object whose `toString` is not a function cannot
 * even be turned into text), and every string they return is valid Unicode within the size limits
 * of limits.ts: what they pass on can always be encoded.
 */
export interface FieldIssue {
  /** Dotted path as the sender wrote it, e.g. `data.name` or `items.3.id`. */
  path: string;
  message: string;
}

/**
 * Collects issues while a value is read; readers return undefined for a bad field. Warnings are
 * about values that were kept but not understood (an enum value ragsync does not know).
 */
export class IssueCollector {
  readonly issues: FieldIssue[] = [];
  readonly warnings: FieldIssue[] = [];

  constructor(private readonly prefix: string) {}

  add(field: string, message: string): undefined {
    this.issues.push({ path: this.path(field), message });
    return undefined;
  }

  warn(field: string, message: string): void {
    this.warnings.push({ path: this.path(field), message });
  }

  private path(field: string): string {
    return this.prefix ? `${this.prefix}.${field}` : field;
  }

  get ok(): boolean {
    return this.issues.length === 0;
  }
}

type Data = Record<string, unknown>;

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

/** `data[field]` when the data holds it itself: `constructor` or `toString` are no fields of a sender's object. */
export function own(data: Data, field: string): unknown {
  return Object.hasOwn(data, field) ? data[field] : undefined;
}

/** A scalar as text (numbers and booleans become their text), or undefined for anything else. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** `text` when it can be written as a string field, else an issue for `field`. */
export function checkText(text: string, field: string, issues: IssueCollector, maxBytes?: number): string | undefined {
  const problem = textProblem(text, maxBytes);
  return problem === undefined ? text : issues.add(field, problem);
}

/** A string; numbers and booleans become their text. Empty strings count as given. */
export function readString(data: Data, field: string, issues: IssueCollector, options: { required?: boolean } = {}): string | null | undefined {
  const value = own(data, field);
  if (absent(value) || (options.required && value === '')) {
    return options.required ? issues.add(field, 'is required') : null;
  }
  const text = scalarText(value);
  if (text === undefined) return issues.add(field, `expected a string, got ${describe(value)}`);
  return checkText(text, field, issues);
}

/** A finite number; numeric strings ("19.90") are accepted. An empty string is absent. */
export function readNumber(data: Data, field: string, issues: IssueCollector): number | null | undefined {
  const value = own(data, field);
  if (absent(value) || value === '') return null;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number === 'number' && Number.isFinite(number)) return number;
  return issues.add(field, `expected a number, got ${describe(value)}`);
}

/** An integer; integral numeric strings are accepted. */
export function readInteger(data: Data, field: string, issues: IssueCollector): number | null | undefined {
  const number = readNumber(data, field, issues);
  if (number === null || number === undefined) return number;
  if (!Number.isSafeInteger(number)) return issues.add(field, `expected an integer, got ${describe(own(data, field))}`);
  return number;
}

/** A boolean; `1`/`0`, `"1"`/`"0"`, `"true"`/`"false"`, `"yes"`/`"no"` are accepted. */
export function readBoolean(data: Data, field: string, issues: IssueCollector): boolean | null | undefined {
  const value = own(data, field);
  if (absent(value) || value === '') return null;
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    if (/^(1|true|yes)$/i.test(value.trim())) return true;
    if (/^(0|false|no)$/i.test(value.trim())) return false;
  }
  return issues.add(field, `expected a boolean, got ${describe(value)}`);
}

/** True when year, month and day name a day of the calendar (no 2026-02-30, no month 13). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  // Date rolls 2026-02-30 over to March 2; a day that survives the round trip exists.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * A calendar date `YYYY-MM-DD`. Magento's `2026-01-02 00:00:00` and ISO date-times are cut to
 * their date part (the dates of specials and promotions are whole days in the store's time). A
 * day the calendar does not have (`2026-02-30`) is refused rather than rolled over.
 */
export function readDate(data: Data, field: string, issues: IssueCollector): string | null | undefined {
  const value = own(data, field);
  if (absent(value) || value === '') return null;
  const match = typeof value === 'string' ? /^((\d{4})-(\d{2})-(\d{2}))(?:[T ].{0,40})?$/.exec(value.trim()) : null;
  if (!match) return issues.add(field, `expected a date YYYY-MM-DD, got ${describe(value)}`);
  if (!isCalendarDate(Number(match[2]), Number(match[3]), Number(match[4]))) return issues.add(field, `is not a day of the calendar: ${describe(value)}`);
  return match[1]!;
}

/**
 * A list of strings. A string is split on `separator` (CSV cells use `|`); numbers become text.
 */
export function readStringList(data: Data, field: string, issues: IssueCollector, separator = '|'): string[] | undefined {
  const value = own(data, field);
  if (absent(value) || value === '') return [];
  if (typeof value === 'string') {
    if (checkText(value, field, issues) === undefined) return undefined;
    const parts = value.split(separator).map((s) => s.trim()).filter((s) => s.length > 0);
    return parts.length > MAX_LIST_ENTRIES ? issues.add(field, `has ${parts.length} entries; at most ${MAX_LIST_ENTRIES}`) : parts;
  }
  if (!Array.isArray(value)) return issues.add(field, `expected a list of strings, got ${describe(value)}`);
  if (value.length > MAX_LIST_ENTRIES) return issues.add(field, `has ${value.length} entries; at most ${MAX_LIST_ENTRIES}`);
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const text = scalarText(item);
    if (text === undefined) return issues.add(`${field}.${i}`, `expected a string, got ${describe(item)}`);
    const problem = textProblem(text);
    if (problem !== undefined) return issues.add(`${field}.${i}`, problem);
    out.push(text);
  }
  return out;
}

/**
 * A string-to-string map. Scalar values become text, lists of scalars are joined with ", "
 * (a multi-select attribute such as `color: ["Black","Red"]`), null values are dropped.
 */
export function readStringMap(data: Data, field: string, issues: IssueCollector): Record<string, string> | undefined {
  const value = own(data, field);
  if (absent(value)) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return issues.add(field, `expected an object, got ${describe(value)}`);
  const map = value as Data;
  const names = Object.keys(map);
  if (names.length > MAX_LIST_ENTRIES) return issues.add(field, `has ${names.length} entries; at most ${MAX_LIST_ENTRIES}`);
  const out: Record<string, string> = {};
  for (let n = 0; n < names.length; n++) {
    const name = names[n]!;
    const item = map[name];
    if (absent(item)) continue;
    // Paths are put together only for an issue: this runs for every attribute of every item.
    const nameProblem = textProblem(name, MAX_NAME_BYTES);
    if (nameProblem !== undefined) return issues.add(`${field}.${shortName(name)}`, nameProblem);
    let text = scalarText(item);
    if (text === undefined && Array.isArray(item) && item.length <= MAX_LIST_ENTRIES && item.every((x) => scalarText(x) !== undefined)) text = item.map(scalarText).join(', ');
    if (text === undefined) return issues.add(`${field}.${name}`, `expected a string, got ${describe(item)}`);
    const problem = textProblem(text);
    if (problem !== undefined) return issues.add(`${field}.${name}`, problem);
    // A sender's `__proto__` attribute is an attribute like any other: assigned, it would set the prototype.
    if (name === '__proto__') Object.defineProperty(out, name, { value: text, enumerable: true, writable: true, configurable: true });
    else out[name] = text;
  }
  return out;
}

/** A sender's name as far as it fits an issue path, in text an answer can carry. */
function shortName(name: string): string {
  return (name.length > 40 ? `${name.slice(0, 40)}…` : name).replace(/\p{Cs}/gu, '\ufffd');
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  // Lone surrogates become U+FFFD: a message is text the answer must be able to carry.
  if (typeof value === 'string') return `"${(value.length > 40 ? `${value.slice(0, 40)}…` : value).replace(/\p{Cs}/gu, '\ufffd')}"`;
  return `${typeof value} ${String(value)}`;
}
