import type { PublishSummary } from './run-publish.js';

/** The human summary of a publish run; `--json` prints the summary object instead. */
export function formatPublishSummary(summary: PublishSummary, limit = 50): string {
  const verb = summary.dryRun ? 'would publish' : 'published';
  const lines = [
    summary.stopped
      ? `published ${summary.published} record(s), then stopped; read ${summary.lines} line(s), rejected ${summary.rejected} line(s)`
      : `${verb} ${summary.published} record(s) from ${summary.lines - summary.rejected} line(s); rejected ${summary.rejected} line(s)${pace(summary)}`,
  ];
  for (const rejection of summary.rejections.slice(0, limit)) {
    const reasons = rejection.issues.map((i) => (i.path ? `${i.path} ${i.message}` : i.message)).join('; ');
    lines.push(`  line ${rejection.line}: ${reasons}`);
  }
  if (summary.rejections.length > limit) lines.push(`  … and ${summary.rejections.length - limit} more (use --json for all)`);
  if (summary.stopped) {
    lines.push(
      `stopped at line ${summary.stopped.line}: ${summary.stopped.message} (${summary.stopped.code})`,
      `  lines before ${summary.stopped.line} are published; from line ${summary.stopped.line} on nothing is known to be: publish them again (tail -n +${summary.stopped.line} FILE)`,
    );
  }
  return lines.join('\n');
}

/** `; 2.3 s, 43,478 records/s` for a run that published something in measurable time. */
function pace(summary: PublishSummary): string {
  if (summary.dryRun || summary.published === 0 || !(summary.seconds > 0)) return '';
  return `; ${summary.seconds.toFixed(1)} s, ${Math.round(summary.published / summary.seconds).toLocaleString('en-US')} records/s`;
}
