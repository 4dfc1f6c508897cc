import { ASPECT_TYPES, ENTITY_TYPES } from './entities.js';
import type { FailurePolicy } from './failure-policy.js';

/**
 * The stages of the pipeline, declared once (docs/design.md §3): what each reads and writes, its
 * consumer group, whether it is terminal, and how its failures are handled. `run`, `status`,
 * `topics`, the DLQ tools, the deploy files' tests and the stage factories (src/cli/pipeline.ts,
 * one per name, checked by the compiler) all read this table; nothing else lists stages.
 */
export interface StageDeclaration {
  readonly name: StageName;
  /** Consumer group suffix: the group id is `<groupPrefix><group>`; it also names `<group>.dlq`. */
  readonly group: string;
  readonly description: string;
  /** Logical input topics (without prefix). */
  readonly inputs: readonly string[];
  /** Logical output topic; none for a terminal stage. */
  readonly output?: string;
  /**
   * Writes to a target outside Kafka (a store, a shop): may hand retryable failures to delayed
   * retry topics `<group>.retry.<delay>`, read back by the group `<group>.retry`. Intermediate
   * stages never do: a record retried later would let a newer one of its key overtake it.
   */
  readonly terminal: boolean;
  /** Inputs whose partitions of one number hold the same keys, processed by one member at a time. */
  readonly coPartitioned: boolean;
  /** What differs from DEFAULT_FAILURE_POLICY for this stage. */
  readonly policy: Partial<FailurePolicy>;
}

export const STAGE_NAMES = ['map', 'chunk', 'embed', 'store'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export const STAGES: { readonly [N in StageName]: StageDeclaration & { readonly name: N } } = {
  map: {
    name: 'map',
    group: 'map',
    description: 'change events → documents (latest version per key, HTML to text, doc type)',
    inputs: ENTITY_TYPES.map((type) => `changes.${type}`),
    output: 'documents',
    terminal: false,
    coPartitioned: false,
    policy: {},
  },
  chunk: {
    name: 'chunk',
    group: 'chunk',
    description: 'documents → chunks with content hashes',
    inputs: ['documents'],
    output: 'chunks',
    terminal: false,
    coPartitioned: false,
    policy: {},
  },
  embed: {
    name: 'embed',
    group: 'embed',
    description: 'chunks → vectors (unchanged chunks are not embedded again)',
    inputs: ['chunks'],
    output: 'vectors',
    terminal: false,
    coPartitioned: false,
    policy: {},
  },
  store: {
    name: 'store',
    group: 'store',
    description: 'vectors, prices and stock → the vector store, behind its version guard',
    // store.retry.due: records of its retry tiers once due, forwarded by its retry consumer.
    inputs: ['vectors', ...ASPECT_TYPES.map((type) => `changes.${type}`), 'store.retry.due'],
    terminal: true,
    coPartitioned: true,
    policy: {},
  },
};

/** Every stage's declaration, in pipeline order. */
export const STAGE_LIST: readonly StageDeclaration[] = STAGE_NAMES.map((name) => STAGES[name]);

export function isStageName(value: string): value is StageName {
  return (STAGE_NAMES as readonly string[]).includes(value);
}

/** Groups that own a DLQ: every stage's. */
export const DLQ_GROUPS: readonly string[] = STAGE_LIST.map((s) => s.group);

/** Groups that own delayed retry topics: the terminal stages'. */
export const TERMINAL_GROUPS: readonly string[] = STAGE_LIST.filter((s) => s.terminal).map((s) => s.group);

/** The consumer group suffix of a terminal group's retry consumer. */
export const retryGroupOf = (group: string): string => `${group}.retry`;
