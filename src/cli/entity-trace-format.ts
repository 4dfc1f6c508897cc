import type { EntityTrace, GroupView, TopicView } from './entity-trace.js';

/** `ragsync status <key>` for people: one block per hop, the store, the shops, dead letters, the verdict. */
export function formatTrace(trace: EntityTrace): string[] {
  const e = trace.entity;
  const lines = [`${trace.key}  (tenant ${e.tenant}, ${e.entityType} ${JSON.stringify(e.entityId)}, store ${e.storeId}; topic prefix ${trace.topicPrefix})`, ''];
  const main = trace.topics.filter((t) => t.role !== 'retry' && t.role !== 'due');
  const retry = trace.topics.filter((t) => t.role === 'retry' || t.role === 'due');
  const width = Math.max(22, ...trace.topics.map((t) => t.topic.length + 2));
  lines.push(`${'topic'.padEnd(width)} ${'part'.padStart(4)} ${'offset'.padStart(8)}  ${'version'.padEnd(20)} ${'occurred at'.padEnd(24)}  record`);
  for (const t of main) lines.push(...topicLines(t, width));
  const holding = retry.filter((t) => t.newest || t.problem);
  for (const t of holding) lines.push(...topicLines(t, width));
  const quiet = retry.filter((t) => t.exists && !t.newest && !t.problem);
  if (quiet.length > 0) {
    const owners = [...new Set(quiet.map((t) => t.owner))];
    lines.push(`retry and due topics of ${owners.join(', ')}: no record of the key (${quiet.length} topics)`);
  }
  const missing = retry.filter((t) => !t.exists);
  if (missing.length > 0) lines.push(`retry topics that do not exist: ${missing.map((t) => t.topic).join(', ')}`);
  lines.push('');

  const s = trace.store;
  if (s) {
    if (s.problem) lines.push(`store  ${s.description}: not read: ${s.problem}`);
    else if (!s.head) lines.push(`store  ${s.description}: no head for the document, ${s.points} points`);
    else {
      const aspects = Object.entries(s.head.aspects).map(([a, v]) => `${a === 'product_price' ? 'price' : a === 'product_stock' ? 'stock' : a} ${v}`);
      const state = s.head.deleted ? `deleted at version ${s.head.version} (${s.head.deletedAt ?? '?'})` : `head version ${s.head.version}`;
      const versions = s.pointVersions.length > 1 || (s.pointVersions.length === 1 && s.pointVersions[0] !== s.head.version) ? ` carrying versions ${s.pointVersions.join(', ')}` : '';
      lines.push(`store  ${s.description}: ${state}, ${s.points} point${s.points === 1 ? '' : 's'}${versions}${aspects.length > 0 ? `; ${aspects.join(', ')}` : ''}`);
    }
  }
  for (const shop of trace.shops) {
    const head = `${shop.kind} ${shop.host}:`;
    if (shop.skipped) lines.push(`${head} ${shop.skipped}`);
    else if (shop.problem) lines.push(`${head} not read: ${shop.problem}`);
    else {
      const held = shop.found ? `product ${shop.id}: version ${shop.versions.product ?? '-'}, price ${shop.versions.price ?? '-'}, stock ${shop.versions.stock ?? '-'}` : 'no product for the key';
      lines.push(`${head} ${held}; delete version ${shop.deleteVersion ?? '-'}`);
    }
  }
  if (s || trace.shops.length > 0) lines.push('');

  const d = trace.dlq;
  if (d.records.length === 0) lines.push(`dead letters: none of the key in ${d.topics.length > 0 ? d.topics.join(', ') : '(no DLQ topic exists)'}`);
  else {
    lines.push(`dead letters of the key (${d.topics.join(', ')}):`);
    for (const r of d.records) {
      const replayed = r.replayed ? `replayed ${r.replayed.at}${r.replayed.to ? ` to ${r.replayed.to}` : ''}` : 'not replayed';
      const input = r.original ? `, input ${r.original.topic.slice(trace.topicPrefix.length)} offset ${r.original.offset}` : '';
      lines.push(`  ${r.ref}  ${r.deadLetteredAt}  version ${r.version ?? '-'}  ${r.errorClass ?? '?'} ${r.errorCode}${input}: ${clip(r.errorMessage ?? '', 160)} (${replayed})`);
    }
  }
  for (const p of d.problems) lines.push(`  ${p}`);
  lines.push('');
  const others = trace.findings.filter((f) => !trace.verdict.includes(f));
  if (others.length > 0) {
    lines.push('also:');
    for (const f of others) lines.push(`  ${f}`);
  }
  lines.push(`verdict: ${trace.verdict}`);
  return lines;
}

function topicLines(t: TopicView, width: number): string[] {
  const head = `${t.topic.padEnd(width)} ${(t.partition === undefined ? '-' : String(t.partition)).padStart(4)}`;
  if (!t.exists) return [`${head} ${'-'.padStart(8)}  topic does not exist`];
  const lines: string[] = [];
  const r = t.newest;
  if (!r) lines.push(`${head} ${'-'.padStart(8)}  no record of the key (${t.read} records read)`);
  else {
    const what = r.tombstone ? 'delete (tombstone)' : r.chunks !== undefined ? `${r.chunks} chunk${r.chunks === 1 ? '' : 's'}` : 'save';
    const retry = r.retry ? `; tier ${r.retry.tier ?? '-'}, attempt ${r.retry.attempt ?? '-'}, due ${r.retry.dueAt ?? '-'}, ${r.retry.errorCode ?? '?'}` : '';
    const more = t.matches > 1 ? `, ${t.matches} records of the key` : '';
    lines.push(`${head} ${r.offset.padStart(8)}  ${(r.version ?? '-').padEnd(20)} ${(r.occurredAt ?? '-').padEnd(24)}  ${what}${retry}${more}`);
  }
  if (t.problem) lines.push(`  ! ${t.problem}`);
  for (const g of t.groups) lines.push(`  ${g.stage.padEnd(width - 2)} ${groupState(g)}`);
  return lines;
}

function groupState(g: GroupView): string {
  const committed = g.committed === null ? 'never committed' : `committed ${g.committed}`;
  if (g.state === 'processed') return `processed (${committed}, lag ${g.lag})`;
  if (g.state === 'waiting') return `waiting (${g.ahead === 0 ? 'next to be read' : `${g.ahead} record${g.ahead === 1 ? '' : 's'} ahead of it`}; ${committed}, lag ${g.lag})`;
  return `${committed}, lag ${g.lag}`;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The trace as `--json` prints it. */
export function traceJson(trace: EntityTrace): string {
  return JSON.stringify(trace, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
