/**
 * Lenient readers for upstream field values. Magento, ERPs and CSV files spell the same value in
 * several ways (`"19.90"` and `19.9`, `1`/`"1"`/`true`, a list or a `|`-separated string); each
 * reader accepts the lossless spellings and reports anything else as an issue naming the field.
 */
export interface FieldIssue {
  /** Dotted path as the sender wrote it, e.g. `data.name` or `items.3.id`. */
  path: string;
  message: string;
}

/** Collects issues while a value is read; readers return undefined for a bad field. */
export class IssueCollector {
  readonly issues: FieldIssue[] = [];

  constructor(private readonly prefix: string) {}

  add(field: string, message: string): undefined {
    this.issues.push({ path: this.prefix ? `${this.prefix}.${field}` : field, message });
    return undefined;
  }

  get ok(): boolean {
    return this.issues.length === 0;
  }
}

type Data = Record<string, unknown>;

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

/** A string; numbers and booleans become their text. Empty strings count as given. */
export function readString(data: Data, field: string, issues: IssueCollector, options: { required?: boolean } = {}): string | null | undefined {
  const value = data[field];
  if (absent(value) || (options.required && value === '')) {
    return options.required ? issues.add(field, 'is required') : null;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return issues.add(field, `expected a string, got ${describe(value)}`);
}

/** A finite number; numeric strings ("19.90") are accepted. An empty string is absent. */
export function readNumber(data: Data, field: string, issues: IssueCollector): number | null | undefined {
  const value = data[field];
  if (absent(value) || value === '') return null;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number === 'number' && Number.isFinite(number)) return number;
  return issues.add(field, `expected a number, got ${describe(value)}`);
}

/** An integer; integral numeric strings are accepted. */
export function readInteger(data: Data, field: string, issues: IssueCollector): number | null | undefined {
  const number = readNumber(data, field, issues);
  if (number === null || number === undefined) return number;
  if (!Number.isSafeInteger(number)) return issues.add(field, `expected an integer, got ${describe(data[field])}`);
  return number;
}

/** A boolean; `1`/`0`, `"1"`/`"0"`, `"true"`/`"false"`, `"yes"`/`"no"` are accepted. */
export function readBoolean(data: Data, field: string, issues: IssueCollector): boolean | null | undefined {
  const value = data[field];
  if (absent(value) || value === '') return null;
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    if (/^(1|true|yes)$/i.test(value.trim())) return true;
    if (/^(0|false|no)$/i.test(value.trim())) return false;
  }
  return issues.add(field, `expected a boolean, got ${describe(value)}`);
}

/**
 * A calendar date `YYYY-MM-DD`. Magento's `2026-01-02 00:00:00` and ISO date-times are cut to
 * their date part (the dates of specials and promotions are whole days in the store's time).
 */
export function readDate(data: Data, field: string, issues: IssueCollector): string | null | undefined {
  const value = data[field];
  if (absent(value) || value === '') return null;
  const match = typeof value === 'string' ? /^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$/.exec(value.trim()) : null;
  if (match && !Number.isNaN(Date.parse(`${match[1]}T00:00:00Z`))) return match[1]!;
  return issues.add(field, `expected a date YYYY-MM-DD, got ${describe(value)}`);
}

/**
 * A list of strings. A string is split on `separator` (CSV cells use `|`); numbers become text.
 */
export function readStringList(data: Data, field: string, issues: IssueCollector, separator = '|'): string[] | undefined {
  const value = data[field];
  if (absent(value) || value === '') return [];
  if (typeof value === 'string') return value.split(separator).map((s) => s.trim()).filter((s) => s.length > 0);
  if (!Array.isArray(value)) return issues.add(field, `expected a list of strings, got ${describe(value)}`);
  const out: string[] = [];
  for (const [i, item] of value.entries()) {
    if (typeof item === 'string') out.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean') out.push(String(item));
    else return issues.add(`${field}.${i}`, `expected a string, got ${describe(item)}`);
  }
  return out;
}

/**
 * A string-to-string map. Scalar values become text, lists of scalars are joined with ", "
 * (a multi-select attribute such as `color: ["Black","Red"]`), null values are dropped.
 */
export function readStringMap(data: Data, field: string, issues: IssueCollector): Record<string, string> | undefined {
  const value = data[field];
  if (absent(value)) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return issues.add(field, `expected an object, got ${describe(value)}`);
  const out: Record<string, string> = {};
  for (const [name, item] of Object.entries(value as Data)) {
    if (absent(item)) continue;
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') out[name] = String(item);
    else if (Array.isArray(item) && item.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) out[name] = item.join(', ');
    else return issues.add(`${field}.${name}`, `expected a string, got ${describe(item)}`);
  }
  return out;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}
