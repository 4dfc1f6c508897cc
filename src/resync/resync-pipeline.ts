import type { Config } from '../config/index.js';
import type { InputRecord, RecordResult, StageContext, StageDefinition } from '../core/stage.js';
import { Pipeline, type PipelineOptions } from '../cli/pipeline.js';
import { createVectorStore, type CollectionSpec, type VectorStore } from '../stores/index.js';

/**
 * The pipeline a resync runs: the stages of `run`, in consumer groups of the resync's own prefix
 * (the configuration it is given), with two differences:
 * - records outside the resync's tenant and types are acknowledged without being processed;
 * - with a collection spec given (`--from vectors`), the store collection is bootstrapped from it
 *   rather than from the embedder, so a replay of `vectors` never loads or asks an embedding model.
 */
export interface ResyncPipelineOptions {
  /** The spec of the collection the vectors came from; undefined: the embedder's. */
  spec?: CollectionSpec | undefined;
  /** Whether a record key is within the resync's tenant and types. */
  inScope: (key: string) => boolean;
  /** True when every key is in scope (no wrapping needed). */
  everything: boolean;
}

export class ResyncPipeline extends Pipeline {
  private ownStore: Promise<VectorStore> | undefined;

  constructor(
    private readonly pipelineOptions: PipelineOptions,
    private readonly resync: ResyncPipelineOptions,
  ) {
    super(resync.everything ? pipelineOptions : { ...pipelineOptions, wrapStage: (stage) => onlyInScope(stage, resync.inScope) });
  }

  private get resyncConfig(): Config {
    return this.pipelineOptions.config;
  }

  override async getStore(): Promise<VectorStore> {
    const spec = this.resync.spec;
    if (spec === undefined) return super.getStore();
    this.ownStore ??= (async () => {
      const store = createVectorStore(this.resyncConfig.store);
      await store.connect();
      await store.ensureCollection(spec);
      return store;
    })();
    return this.ownStore;
  }

  override async stop(): Promise<void> {
    await super.stop();
    const store = await this.ownStore?.catch(() => undefined);
    await store?.close();
  }
}

/** The stage with records outside the scope acknowledged as they are, producing nothing. */
export function onlyInScope(stage: StageDefinition, inScope: (key: string) => boolean): StageDefinition {
  const wrapped = Object.assign(Object.create(Object.getPrototypeOf(stage) as object) as StageDefinition, stage);
  wrapped.process = async (records: InputRecord[], context: StageContext): Promise<RecordResult[]> => {
    const keep = records.map((record) => inScope(record.key));
    if (keep.every(Boolean)) return stage.process(records, context);
    const kept = records.filter((_, i) => keep[i]);
    const results = kept.length === 0 ? [] : await stage.process(kept, context);
    let next = 0;
    return keep.map((k) => (k ? results[next++]! : { ok: true as const, outputs: [] }));
  };
  return wrapped;
}
