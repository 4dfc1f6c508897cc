import { prng } from '../../support/generate-entities.js';
import type { PublishLine } from '../../support/generate-entities.js';

/**
 * A fault test's input: saves and deletes of `keys` products, each key's versions in increasing
 * order, drawn from a fixed seed, and the state the store must end in whatever fails on the way:
 * for every key its last event (a delete: no document; a save: that version, with that name).
 */
export interface Workload {
  lines: PublishLine[];
  expected: Map<string, ExpectedDoc>;
}

export type ExpectedDoc = { docKey: string; version: bigint; deleted: true } | { docKey: string; version: bigint; deleted: false; title: string };

export interface WorkloadOptions {
  tenant: string;
  seed: number;
  keys: number;
  events: number;
  /** Share of events that are deletes (a later save of the key brings it back). @defaultValue 0.05 */
  deleteShare?: number;
  storeId?: number;
  /**
   * Each key stops changing at a point of its own, spread evenly over the run, instead of every key
   * changing until the end: the newest version of some keys is then published early, and a record
   * lost at any point of the run (committed but never applied) leaves its key short for good,
   * where otherwise a later version of the same key would hide the loss.
   */
  spreadLastVersions?: boolean;
}

const NOUNS = ['kettle', 'lantern', 'stool', 'tarp', 'stove', 'mug', 'hammock', 'compass'];

/** The record key of product `id`, which is also its document key in the store. */
export function productKey(tenant: string, id: string, storeId: number): string {
  return `${tenant}/product/${id}/${storeId}`;
}

export function productLine(tenant: string, id: string, version: number, storeId: number, paragraphs = 2): { line: PublishLine; title: string } {
  const noun = NOUNS[Number(id.slice(2)) % NOUNS.length]!;
  const title = `Camp ${noun} ${id} v${version}`;
  const body = Array.from({ length: paragraphs }, (_, p) => `<p>Paragraph ${p + 1} of the ${noun} ${id}, revision ${version}: sturdy, light and made to be carried far from the road.</p>`).join('');
  return {
    title,
    line: {
      type: 'product',
      tenant,
      store_id: storeId,
      id,
      action: 'save',
      source_version: version,
      data: { sku: id, name: title, description: body, status: 'enabled', visibility: 4, price: 10 + (version % 40), currency: 'EUR', qty: version % 7, stock_status: version % 7 > 0 ? 'in_stock' : 'out_of_stock' },
    },
  };
}

export function workload(options: WorkloadOptions): Workload {
  const random = prng(options.seed);
  const storeId = options.storeId ?? 1;
  const deleteShare = options.deleteShare ?? 0.05;
  const versions = new Map<string, number>();
  const lines: PublishLine[] = [];
  const expected = new Map<string, ExpectedDoc>();
  // With spreadLastVersions, key k may change until event `last[k]`; the keys still changing are
  // `active`, those that stop soonest at its end.
  const last = Array.from({ length: options.keys }, (_, k) => Math.round(((k + 1) / options.keys) * options.events));
  const active = options.spreadLastVersions ? Array.from({ length: options.keys }, (_, k) => options.keys - 1 - k) : [];
  for (let i = 0; i < options.events; i += 1) {
    while (active.length > 1 && last[active[active.length - 1]!]! <= i) active.pop();
    const index = options.spreadLastVersions ? active[Math.floor(random() * active.length)]! : Math.floor(random() * options.keys);
    const id = `P-${String(index).padStart(5, '0')}`;
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    const docKey = productKey(options.tenant, id, storeId);
    if (version > 1 && random() < deleteShare) {
      lines.push({ type: 'product', tenant: options.tenant, store_id: storeId, id, action: 'delete', source_version: version });
      expected.set(docKey, { docKey, version: BigInt(version), deleted: true });
    } else {
      const { line, title } = productLine(options.tenant, id, version, storeId);
      lines.push(line);
      expected.set(docKey, { docKey, version: BigInt(version), deleted: false, title });
    }
  }
  return { lines, expected };
}
