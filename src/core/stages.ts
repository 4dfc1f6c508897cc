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
  /**
   * A push stage's target kind (a tenant's `targets.<kind>`, src/config/targets.ts): the stage
   * runs, and its topics exist, only when some tenant configures one. Core stages have none.
   */
  readonly target?: TargetKind;
}

/** The kinds of push targets a tenant can configure. */
export type TargetKind = 'shopware' | 'woocommerce' | 'webhooks';

export const CORE_STAGE_NAMES = ['map', 'chunk', 'embed', 'store'] as const;
export const PUSH_STAGE_NAMES = [
  'push-shopware',
  'push-shopware-price',
  'push-shopware-stock',
  'push-woocommerce',
  'push-woocommerce-price',
  'push-woocommerce-stock',
  'push-webhook',
] as const;
export const STAGE_NAMES = [...CORE_STAGE_NAMES, ...PUSH_STAGE_NAMES] as const;
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
  ...pushStages('shopware', 'Shopware 6'),
  ...pushStages('woocommerce', 'WooCommerce'),
  'push-webhook': {
    name: 'push-webhook',
    group: 'push-webhook',
    description: 'entity changes → signed batches in the Magento RagSync webhook format, to the configured receivers',
    // Not the price and stock aspects: the format has no item for a partial product.
    inputs: [...ENTITY_TYPES.map((type) => `changes.${type}`), 'push-webhook.retry.due'],
    terminal: true,
    coPartitioned: true,
    policy: {},
    target: 'webhooks',
  },
};

/**
 * A shop's three push stages (docs/sinks.md "Priority by change class"): product details, prices
 * and stock each in a consumer group of their own, so a backfill of 50,000 products on
 * `changes.product` never queues a price or stock change behind it. The shop keeps a version per
 * class, so the three groups never undo each other's newer writes.
 */
function pushStages<K extends 'shopware' | 'woocommerce'>(kind: K, label: string) {
  const stage = <N extends string>(name: N, description: string, input: string): StageDeclaration & { readonly name: N } =>
    ({
      name: name as unknown as StageName,
      group: name,
      description,
      inputs: [input, `${name}.retry.due`],
      terminal: true,
      coPartitioned: true,
      policy: {},
      target: kind,
    }) as unknown as StageDeclaration & { readonly name: N };
  return {
    [`push-${kind}`]: stage(`push-${kind}`, `products → ${label} (create, update, delete), behind the shop's version guard`, 'changes.product'),
    [`push-${kind}-price`]: stage(`push-${kind}-price`, `price changes → ${label}, price fields only`, 'changes.product_price'),
    [`push-${kind}-stock`]: stage(`push-${kind}-stock`, `stock changes → ${label}, stock fields only`, 'changes.product_stock'),
  } as { [N in `push-${K}` | `push-${K}-price` | `push-${K}-stock`]: StageDeclaration & { readonly name: N } };
}

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

/** Whether a tenant configures a target of this kind. */
function configures(targets: TenantTargets, kind: TargetKind): boolean {
  return kind === 'webhooks' ? (targets.webhooks?.length ?? 0) > 0 : targets[kind] !== undefined;
}

/** What the stage table needs to know of the tenants' targets (src/config/targets.ts). */
export interface TenantTargets {
  shopware?: unknown;
  woocommerce?: unknown;
  webhooks?: readonly unknown[];
}

/**
 * The stages of this deployment: the core stages, and each push stage whose target some tenant
 * configures. `run all`, `status`, the topic catalogue and the DLQ tools use these.
 */
export function enabledStages(tenants: Readonly<Record<string, { targets?: TenantTargets }>> | undefined): StageDeclaration[] {
  const all = Object.values(tenants ?? {});
  return STAGE_LIST.filter((s) => s.target === undefined || all.some((t) => t.targets !== undefined && configures(t.targets, s.target!)));
}

/** The groups with a DLQ in this deployment: every enabled stage's. */
export const enabledDlqGroups = (tenants: Parameters<typeof enabledStages>[0]): string[] => enabledStages(tenants).map((s) => s.group);

/** The groups with retry topics in this deployment: the enabled terminal stages'. */
export const enabledTerminalGroups = (tenants: Parameters<typeof enabledStages>[0]): string[] =>
  enabledStages(tenants)
    .filter((s) => s.terminal)
    .map((s) => s.group);
