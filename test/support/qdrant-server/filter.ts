/**
 * Qdrant's filter semantics for the subset the stores use: must / should / must_not (a condition
 * or a list), nested filters, field conditions with `match` (value, any, except) and `range`,
 * `has_id`, `is_empty`, `is_null`. Anything else throws {@link UnsupportedFilter}: the server
 * answers 400 and records a violation, so a test never passes on a silently ignored condition.
 */
export class UnsupportedFilter extends Error {}

type Json = unknown;
export type Payload = Record<string, Json>;

export interface FilterablePoint {
  id: string | number;
  payload: Payload;
}

function valuesAt(payload: Payload, key: string): Json[] {
  let current: Json[] = [payload];
  for (const part of key.split('.')) {
    const next: Json[] = [];
    for (const value of current) {
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && part in value) {
        const found = (value as Record<string, Json>)[part];
        if (Array.isArray(found)) next.push(...found);
        else next.push(found);
      }
    }
    current = next;
  }
  return current;
}

function asList(conditions: Json): Json[] {
  if (conditions === undefined || conditions === null) return [];
  return Array.isArray(conditions) ? conditions : [conditions];
}

function matches(value: Json, match: Record<string, Json>): boolean {
  if ('value' in match) return value === match.value;
  if ('any' in match) return (match.any as Json[]).includes(value);
  if ('except' in match) return !(match.except as Json[]).includes(value);
  throw new UnsupportedFilter(`match ${JSON.stringify(match)} is not supported by the test server`);
}

function inRange(value: Json, range: Record<string, Json>): boolean {
  if (typeof value !== 'number') return false;
  const bound = (name: string): number | undefined => (typeof range[name] === 'number' ? (range[name] as number) : undefined);
  const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
  return (gt === undefined || value > gt) && (gte === undefined || value >= gte) && (lt === undefined || value < lt) && (lte === undefined || value <= lte);
}

function conditionHolds(point: FilterablePoint, condition: Record<string, Json>): boolean {
  if ('has_id' in condition) return (condition.has_id as Json[]).some((id) => String(id).toLowerCase() === String(point.id));
  if ('must' in condition || 'should' in condition || 'must_not' in condition) return filterMatches(point, condition);
  if ('is_empty' in condition) {
    const values = valuesAt(point.payload, (condition.is_empty as { key: string }).key).filter((v) => v !== null);
    return values.length === 0;
  }
  if ('is_null' in condition) return valuesAt(point.payload, (condition.is_null as { key: string }).key).some((v) => v === null);
  if (typeof condition.key === 'string') {
    const supported = ['key', 'match', 'range'];
    const extra = Object.keys(condition).filter((name) => !supported.includes(name) && condition[name] !== null);
    if (extra.length > 0) throw new UnsupportedFilter(`field condition with ${extra.join(', ')} is not supported by the test server`);
    const values = valuesAt(point.payload, condition.key);
    const match = condition.match as Record<string, Json> | undefined | null;
    const range = condition.range as Record<string, Json> | undefined | null;
    if ((match === undefined || match === null) && (range === undefined || range === null)) {
      throw new UnsupportedFilter(`field condition on ${condition.key} without match or range`);
    }
    if (match !== undefined && match !== null && 'except' in match) {
      // `except` holds when no value is in the list (and Qdrant counts a missing field as a match).
      return values.every((value) => matches(value, match));
    }
    return values.some((value) => (match === undefined || match === null || matches(value, match)) && (range === undefined || range === null || inRange(value, range)));
  }
  throw new UnsupportedFilter(`condition ${JSON.stringify(condition)} is not supported by the test server`);
}

/** True when the point passes the filter; an absent filter passes everything. */
export function filterMatches(point: FilterablePoint, filter: Json): boolean {
  if (filter === undefined || filter === null) return true;
  const f = filter as Record<string, Json>;
  if (f.min_should !== undefined && f.min_should !== null) throw new UnsupportedFilter('min_should is not supported by the test server');
  const holds = (c: Json) => conditionHolds(point, c as Record<string, Json>);
  const should = asList(f.should);
  return asList(f.must).every(holds) && (should.length === 0 || should.some(holds)) && !asList(f.must_not).some(holds);
}
