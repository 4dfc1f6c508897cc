import { describeEntry, ShopwareRejectedError } from '../../connectors/shopware/errors.js';
import type { ShopwareErrorEntry, SyncOperations } from '../../connectors/shopware/types.js';
import type { Entry } from './plan.js';

/** The sync operations, in the order Shopware runs them. */
const OPERATIONS = ['upsert', 'price', 'stock', 'delete'] as const;

/** One sync body and which entry each `/<operation>/<index>` is. */
export function syncBody(entries: readonly Entry[]): { body: SyncOperations; at: Map<string, Entry> } {
  const body: SyncOperations = {};
  const at = new Map<string, Entry>();
  for (const op of OPERATIONS) {
    const mine = entries.filter((e) => e.op === op);
    if (mine.length === 0) continue;
    body[op] = { entity: 'product', action: op === 'delete' ? 'delete' : 'upsert', payload: mine.map((e) => e.payload) };
    mine.forEach((entry, i) => at.set(`${op}/${i}`, entry));
  }
  return { body, at };
}

/** The entries a 400's pointers name, with their errors; pointers that name nothing sent are ignored. */
export function pointedEntries(errors: readonly ShopwareErrorEntry[], at: Map<string, Entry>): Map<Entry, ShopwareErrorEntry[]> {
  const pointed = new Map<Entry, ShopwareErrorEntry[]>();
  for (const error of errors) {
    const match = /^\/([^/]+)\/(\d+)(?:\/|$)/.exec(error.source?.pointer ?? '');
    const entry = match ? at.get(`${match[1]}/${match[2]}`) : undefined;
    if (entry !== undefined) pointed.set(entry, [...(pointed.get(entry) ?? []), error]);
  }
  return pointed;
}

/**
 * Writes entries with as few sync requests as it can, knowing a request is one transaction: a 400
 * whose pointers name entries fails exactly those (with Shopware's detail) and sends the others
 * again; a 400 without a usable pointer is split in halves until each refused entry stands alone.
 * Returns the refused entries; every other entry is written. Any other error (5xx, network, 401)
 * is thrown: nothing is known about the batch then.
 */
export async function applyEntries(
  entries: readonly Entry[],
  sync: (body: SyncOperations) => Promise<unknown>,
  host: string,
): Promise<Map<Entry, ShopwareRejectedError>> {
  const refused = new Map<Entry, ShopwareRejectedError>();
  const run = async (part: readonly Entry[]): Promise<void> => {
    let remaining = part;
    while (remaining.length > 0) {
      const { body, at } = syncBody(remaining);
      try {
        await sync(body);
        return;
      } catch (error) {
        if (!(error instanceof ShopwareRejectedError)) throw error;
        const pointed = pointedEntries(error.errors, at);
        if (pointed.size === 0) {
          if (remaining.length === 1) {
            refused.set(remaining[0]!, entryError(remaining[0]!, error.errors, error.status, host, error.message));
            return;
          }
          const middle = Math.ceil(remaining.length / 2);
          await run(remaining.slice(0, middle));
          await run(remaining.slice(middle));
          return;
        }
        for (const [entry, errors] of pointed) refused.set(entry, entryError(entry, errors, error.status, host));
        remaining = remaining.filter((entry) => !pointed.has(entry));
      }
    }
  };
  await run(entries);
  return refused;
}

function entryError(entry: Entry, errors: ShopwareErrorEntry[], status: number, host: string, fallback?: string): ShopwareRejectedError {
  const what = errors.length > 0 ? errors.map(describeEntry).join('; ') : (fallback ?? `answered ${status}`);
  const number = typeof entry.payload.productNumber === 'string' ? ` ${entry.payload.productNumber}` : '';
  return new ShopwareRejectedError(`shopware ${host}: product${number} (${entry.key}) refused: ${what}`.replace(/\s+/g, ' '), status, errors);
}
