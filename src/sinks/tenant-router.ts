import { parseKey } from '../core/keys.js';
import { APPLIED, failed, type Sink, type SinkRecord, type SinkResult } from '../core/sink.js';

/**
 * One push stage serves every tenant: its records are routed by the tenant in their key to that
 * tenant's sinks (each wrapped in its own circuit breaker and rate limit, so one shop down never
 * pauses another's writes more than the slice they share). A record of a tenant without a target
 * of this kind is not for this stage: applied, nothing written.
 *
 * A tenant may have several sinks of one kind (several webhook receivers): the record is applied
 * once every one of them applied it; the first failure is its result.
 */
export function routeByTenant<V>(name: string, sinksByTenant: ReadonlyMap<string, readonly Sink<V>[]>): Sink<V> {
  const all = [...sinksByTenant.values()].flat();
  return {
    target: name,
    async connect() {
      await Promise.all(all.map((sink) => sink.connect()));
    },
    async write(records: readonly SinkRecord<V>[]): Promise<SinkResult[]> {
      const results: SinkResult[] = records.map(() => APPLIED);
      const byTenant = new Map<string, number[]>();
      records.forEach((record, index) => {
        let tenant: string;
        try {
          tenant = parseKey(record.key).tenant;
        } catch (error) {
          results[index] = failed(error);
          return;
        }
        if (!sinksByTenant.has(tenant)) return;
        const indexes = byTenant.get(tenant) ?? [];
        indexes.push(index);
        byTenant.set(tenant, indexes);
      });
      const writes = [...byTenant].flatMap(([tenant, indexes]) =>
        sinksByTenant.get(tenant)!.map(async (sink) => {
          const subset = indexes.map((i) => records[i]!);
          let outcome: SinkResult[];
          try {
            outcome = await sink.write(subset);
          } catch (error) {
            // Failed as a whole for this target only: every record of it carries the error (a
            // circuit-open or rate-limited signal still pauses the stage).
            outcome = subset.map(() => failed(error));
          }
          indexes.forEach((recordIndex, i) => {
            const result = outcome[i] ?? failed(new Error(`sink ${sink.target} returned ${outcome.length} results for ${subset.length} records`));
            if (results[recordIndex]!.status === 'failed') return;
            if (result.status === 'failed' || results[recordIndex]!.status === 'applied') results[recordIndex] = result;
          });
        }),
      );
      await Promise.all(writes);
      return results;
    },
    async close() {
      await Promise.all(all.map((sink) => sink.close()));
    },
  };
}
