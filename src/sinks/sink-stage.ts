import { PermanentError } from '../core/errors.js';
import type { SinkRecord, Sink } from '../core/sink.js';
import type { InputRecord, RecordResult, StageDefinition } from '../core/stage.js';

export interface SinkStageDefinition {
  name: string;
  group: string;
  /** Logical input topics. */
  inputs: string[];
  /** Sink stages end the pipeline: they may route retryable failures to delayed retry topics. @defaultValue true */
  terminal?: boolean;
  /** See {@link StageDefinition.coPartitioned}: one writer per key across the inputs. */
  coPartitioned?: boolean;
}

export interface SinkStageOptions<V> {
  /** Called after each applied record (not a stale one), e.g. for the source-to-target latency. */
  onApplied?: (record: SinkRecord<V>) => void;
}

/**
 * A terminal stage that writes its records to a sink (docs/sinks.md): each slice (records of one
 * partition, in offset order) is one `write`, and each result becomes the record's: applied → ok,
 * stale → ok and counted stale, failed → the record's error, which the failure policy routes. A
 * write that throws fails the whole slice with its error (a CircuitOpenError or RateLimitedError
 * pauses the stage). The sink connects before the first slice and closes with the stage.
 */
export function createSinkStage<V>(definition: SinkStageDefinition, sink: Sink<V>, options: SinkStageOptions<V> = {}): StageDefinition<V, never> {
  let connecting: Promise<void> | undefined;
  const connected = (): Promise<void> => {
    // A failed connect is tried again with the next slice.
    connecting ??= sink.connect().catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  };

  return {
    name: definition.name,
    group: definition.group,
    inputs: definition.inputs,
    terminal: definition.terminal ?? true,
    ...(definition.coPartitioned === undefined ? {} : { coPartitioned: definition.coPartitioned }),
    async process(records: InputRecord<V>[]): Promise<RecordResult<never>[]> {
      await connected();
      const results = await sink.write(records);
      if (results.length !== records.length) {
        throw new PermanentError(`sink ${sink.target} returned ${results.length} results for ${records.length} records`, { code: 'sink_contract' });
      }
      return results.map((result, index): RecordResult<never> => {
        if (result.status === 'failed') return { ok: false, error: result.error };
        if (result.status === 'stale') return { ok: true, outputs: [], stale: true };
        options.onApplied?.(records[index]!);
        return { ok: true, outputs: [] };
      });
    },
    close: () => sink.close(),
  };
}
