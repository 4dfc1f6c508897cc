import { formatWait } from '../kafka/retry-status.js';
import type { PipelineStatus, Verdict } from './status-view.js';

/** Share of delete.retention.ms past which a group's oldest unprocessed record puts deletes at risk. */
export const TOMBSTONE_RISK_SHARE = 0.5;

/** `formatWait`, with days from two days up: `7d`, `3d 4h`. */
export function formatAge(ms: number): string {
  const hours = Math.floor(Math.abs(ms) / 3_600_000);
  if (hours < 48) return formatWait(ms);
  return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

const rate = (n: number | null | undefined): string => (n === null || n === undefined ? '?' : n >= 10 ? n.toFixed(0) : n.toFixed(1));

/**
 * One verdict from a status, most urgent first:
 * - `failing`: an open (or half-open) circuit, dead letters still to handle, or a group whose
 *   oldest unprocessed record is older than its compacted input's delete.retention.ms (compaction
 *   may already have removed tombstones the group never saw: deletes lost from the index);
 * - `behind`: lag on a group, or an oldest unprocessed record past {@link TOMBSTONE_RISK_SHARE}
 *   of delete.retention.ms (it will lose deletes if it does not catch up);
 * - `in sync` otherwise. Parts that could not be read are notes: they change no state.
 */
export function statusVerdict(status: PipelineStatus): Verdict {
  const failing: string[] = [];
  const behind: string[] = [];
  if ((status.missingTopics ?? []).length > 0) failing.push(`missing topics ${status.missingTopics!.join(', ')}: run \`ragsync topics apply\``);
  for (const c of status.circuits ?? []) {
    if (c.state === 'open') failing.push(`circuit ${c.target} is open (half-open in ${formatWait(c.waitMs)})`);
    else if (c.state === 'half-open') failing.push(`circuit ${c.target} is half-open (probing the target)`);
  }
  for (const s of status.stages) {
    if ((s.dlq ?? 0) > 0) {
      const codes = (status.dlqByReason ?? []).filter((r) => r.group === s.stage);
      const top = codes.sort((a, b) => b.count - a.count)[0];
      failing.push(`${s.dlq} dead letter${s.dlq === 1 ? '' : 's'} in ${s.stage}.dlq${top ? ` (${top.code}${codes.length > 1 ? `, ${codes.length} codes` : ''})` : ''}`);
    }
    const age = s.oldestUnprocessedMs;
    const retention = s.deleteRetentionMs;
    if (age !== null && age !== undefined && retention !== null && retention !== undefined) {
      if (age > retention) failing.push(`${s.stage}: oldest unprocessed record is ${formatAge(age)} old, over delete.retention.ms (${formatAge(retention)}): deletes may have been missed`);
      else if (age > retention * TOMBSTONE_RISK_SHARE) behind.push(`${s.stage}: oldest unprocessed record is ${formatAge(age)} old, delete.retention.ms is ${formatAge(retention)}: it risks missing deletes`);
    }
    if (s.lag > 0) {
      const parts = [`lag ${s.lag}`];
      if (age !== null && age !== undefined) parts.push(`oldest ${formatAge(age)}`);
      if (s.inPerSecond !== undefined) parts.push(`in ${rate(s.inPerSecond)}/s, done ${rate(s.donePerSecond)}/s`);
      behind.push(`${s.stage} ${parts.join(', ')}`);
    }
  }
  const notes = [...(status.storeProblem ? [`store not counted: ${status.storeProblem}`] : []), ...(status.problems ?? [])];
  if (failing.length > 0) return { state: 'failing', reasons: [...failing, ...behind], notes };
  if (behind.length > 0) return { state: 'behind', reasons: behind, notes };
  return { state: 'in sync', reasons: [], notes };
}

/** `failing: 3 dead letters in map.dlq (…); store lag 15` */
export function verdictLine(verdict: Verdict): string {
  return verdict.reasons.length === 0 ? verdict.state : `${verdict.state}: ${verdict.reasons.join('; ')}`;
}
