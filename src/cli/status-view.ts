import type { CircuitSnapshot } from '../coordination/circuit-breaker.js';
import type { PartitionLag } from '../kafka/partition-offsets.js';
import type { GroupRetryStatus } from '../kafka/retry-status.js';
import type { LatencySummary } from '../observability/activity.js';

/** What `ragsync status` reports (and `--json` prints), read by `collectStatus` (status.ts). */

/** Whether the pipeline keeps up, and why not: the first line of `status` and of the dashboard. */
export interface Verdict {
  state: 'in sync' | 'behind' | 'failing';
  /** Most urgent first; empty when in sync. */
  reasons: string[];
  /** Things worth knowing that change no state (a part not read). */
  notes: string[];
}

/** One partition of a group's inputs (logical topic name), with the age of its oldest unprocessed record. */
export interface PartitionStatus extends Omit<PartitionLag, 'topic'> {
  topic: string;
  /** Timestamp of the record at the committed offset (the next one the group reads), ISO 8601; only with lag. */
  oldestUnprocessedAt?: string;
}

export interface StageStatus {
  stage: string;
  group: string;
  lag: number;
  /**
   * Dead-lettered records still to handle: held by `<group>.dlq` and not replayed (with
   * `dlqMarks`), or held at all (without). Undefined when the topic does not exist, or for a retry
   * consumer, whose dead records are its stage's.
   */
  dlq: number | undefined;
  /** With `detail`: lag per partition of every input. */
  partitions?: PartitionStatus[];
  /** With `detail`: records produced to the stage's inputs per second over the last minute (Kafka offsets by timestamp). */
  inPerSecond?: number;
  /** With `detail`: records the stage handled per second over the last minute, all replicas (shared through Redis); null when Redis did not answer. */
  donePerSecond?: number | null;
  /** With `detail`: age of the oldest record not yet processed (ms); null with no lag or when it could not be read. */
  oldestUnprocessedMs?: number | null;
  /** With `detail`: the smallest delete.retention.ms of the stage's compacted inputs; null when none is compacted. */
  deleteRetentionMs?: number | null;
}

export interface DlqReason {
  group: string;
  code: string;
  errorClass: string;
  count: number;
  lastMessage: string;
}

export interface IndexCount {
  tenant: string;
  entityType: string;
  documents: number;
}

export interface PipelineStatus {
  /** When the status was read, ISO 8601. */
  at?: string;
  verdict?: Verdict;
  stages: StageStatus[];
  points?: number;
  documents?: number;
  /** With `detail` and a store: documents per tenant and entity type. */
  documentsByType?: IndexCount[];
  /** With `detail` and a store: points per tenant and document type (doc_type). */
  pointsByType?: Array<{ tenant: string; docType: string; points: number }>;
  /** Why the store could not be counted. */
  storeProblem?: string;
  /** Circuit states of the sinks' targets, when asked for. */
  circuits?: CircuitSnapshot[];
  /** With `detail`: what waits in the retry tiers (as `retry status` shows it). */
  retries?: GroupRetryStatus[];
  /** With `detail`: dead letters still to handle by group and error code. */
  dlqByReason?: DlqReason[];
  /** With `detail`: the newest record of each entity type's change topic, when Kafka took it. */
  lastEvents?: Array<{ entityType: string; topic: string; at: string | null }>;
  /** With `detail` and Redis: source-to-target latency of recent changes, per target and change class. */
  freshness?: LatencySummary[];
  /** With `detail` and Redis: embedding cache over the last minute. */
  embeddingCache?: { hits: number; misses: number; hitRatio: number | null };
  /** With `detail` and Redis: records handled per stage per second, the last minute, oldest first. */
  series?: Array<{ at: number; stages: Record<string, number> }>;
  /** Input topics (logical names) that do not exist: `ragsync topics apply` was not run since they were added. */
  missingTopics?: string[];
  /** Parts that could not be read (Redis away, a probe that timed out). */
  problems?: string[];
}

