import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { parseKey } from '../../../src/core/keys.js';
import { createWebhookServer } from '../../../src/producers/magento/server.js';
import { signBody } from '../../../src/producers/magento/signature.js';
import { createProducerHarness } from '../../integration/producers/harness.js';
import type { FaultRow } from '../support/summary.js';

const OLD_SECRET = 'matrix-secret-before-rotation';
const NEW_SECRET = 'matrix-secret-after-rotation';
const TENANT = 'outfitter';

const product = (id: string) => ({ type: 'product', id, action: 'save', store_id: 1, data: { sku: id, name: `Ridge pack ${id}`, description: '<p>Carries a weekend.</p>', price: '89.00' } });
const batch = (batchId: string, ids: string[]) => JSON.stringify({ type: 'batch', batch_id: batchId, timestamp: new Date().toISOString(), items: ids.map(product) });

interface Case {
  name: string;
  /** The answers this case may get; anything else is a wrong answer. */
  allowed: number[];
  status: number;
}

/**
 * Scenario 17: the Magento webhook under everything a careless or hostile sender does, on a real
 * socket, against real Kafka and Redis: a byte changed after signing, a wrong secret, the old
 * secret during and after a rotation, 100 concurrent deliveries of one batch_id, a body over the
 * limit, deep nesting, invalid UTF-8, an unknown tenant, and slow clients holding connections open
 * while a valid batch is sent. Every answer must be the right one, and Kafka (read with a separate
 * client) must hold exactly one record per accepted item.
 */
export async function webhookMatrix(name: string, options: { replays: number; slowClients: number }, report: (row: FaultRow) => void): Promise<void> {
  const h = await createProducerHarness('matrix', { [TENANT]: { secrets: [NEW_SECRET, OLD_SECRET], stores: [1] } });
  const servers: FastifyInstance[] = [];
  const sockets: Socket[] = [];
  const serve = async (secrets: string[]) => {
    const config = { ...h.config, webhook: { ...h.config.webhook, bodyLimitBytes: 256 * 1024 }, tenants: { [TENANT]: { ...h.config.tenants[TENANT]!, secrets } } };
    const app = createWebhookServer({ config, sink: h.sink, redis: h.redis });
    servers.push(app);
    return app.listen({ port: 0, host: '127.0.0.1' });
  };
  const post = async (base: string, body: string | Buffer, options: { secret?: string; signature?: string; tenant?: string } = {}) => {
    const response = await fetch(`${base}/api/webhooks/magento/${options.tenant ?? TENANT}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-magento-webhook-signature': options.signature ?? signBody(body, options.secret ?? NEW_SECRET) },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const cases: Case[] = [];
  const check = (caseName: string, allowed: number[], status: number) => cases.push({ name: caseName, allowed, status });
  const started = Date.now();
  try {
    const rotating = await serve([NEW_SECRET, OLD_SECRET]);
    const accepted = new Set<string>();

    // A byte changed after signing; a wrong secret; no signature.
    const tampered = Buffer.from(batch('m-tamper', ['T-1']));
    const signature = signBody(tampered, NEW_SECRET);
    tampered[tampered.indexOf('Ridge')] = 'r'.charCodeAt(0);
    check('one byte changed after signing', [401], (await post(rotating, tampered, { signature })).status);
    check('wrong secret', [401], (await post(rotating, batch('m-wrong', ['W-1']), { secret: 'not-the-secret-at-all' })).status);
    // During the rotation both secrets are good; after it only the new one.
    const during = await post(rotating, batch('m-old-during', ['R-1']), { secret: OLD_SECRET });
    check('old secret during the rotation', [202], during.status);
    if (during.status === 202) accepted.add('R-1');
    const rotated = await serve([NEW_SECRET]);
    check('old secret after the rotation', [401], (await post(rotated, batch('m-old-after', ['R-2']), { secret: OLD_SECRET })).status);
    const fresh = await post(rotated, batch('m-new-after', ['R-3']));
    check('new secret after the rotation', [202], fresh.status);
    if (fresh.status === 202) accepted.add('R-3');

    // One batch delivered `replays` times at once (a retry storm): published once, every answer a
    // 202 (the first, then duplicates) or a 503 "in progress" that the sender resends later.
    const storm = batch('m-storm', ['S-1', 'S-2', 'S-3']);
    const answers = await Promise.all(Array.from({ length: options.replays }, () => post(rotating, storm)));
    for (const answer of answers) check('concurrent delivery of one batch_id', [202, 503], answer.status);
    const resent = await Promise.all(answers.filter((a) => a.status === 503).map(() => post(rotating, storm)));
    for (const answer of resent) check('resent after a 503', [202], answer.status);
    const published = [...answers, ...resent].filter((a) => a.status === 202 && a.body.duplicate !== true);
    check('exactly one delivery of the storm published', [1], published.length);
    for (const id of ['S-1', 'S-2', 'S-3']) accepted.add(id);

    // Over the body limit; nesting 20,000 deep; invalid UTF-8; an unknown tenant.
    check('body over the limit', [413], (await post(rotating, JSON.stringify({ type: 'batch', batch_id: 'm-big', timestamp: new Date().toISOString(), items: [product('B-1')], pad: 'x'.repeat(300 * 1024) }))).status);
    const deep = `{"type":"batch","batch_id":"m-deep","timestamp":"${new Date().toISOString()}","items":[${'['.repeat(20_000)}${']'.repeat(20_000)}]}`;
    check('nesting 20,000 deep', [400], (await post(rotating, deep)).status);
    const utf8 = Buffer.concat([Buffer.from(batch('m-utf8', ['U-1']).replace('Ridge pack', 'Ridge pack \u0000MARK')), Buffer.alloc(0)]);
    utf8.write('\xff\xfe', utf8.indexOf('\u0000MARK'), 'latin1');
    check('invalid UTF-8', [400], (await post(rotating, utf8)).status);
    check('unknown tenant', [404], (await post(rotating, batch('m-who', ['N-1']), { tenant: 'nobody' })).status);

    // Slow clients: connections that send a header byte now and then and never finish.
    const port = Number(new URL(rotating).port);
    for (let i = 0; i < options.slowClients; i += 1) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('POST /api/webhooks/magento/outfitter/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      sockets.push(socket);
    }
    const drip = setInterval(() => sockets.forEach((s) => s.writable && s.write('X')), 1000);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const t0 = performance.now();
      const during = await post(rotating, batch('m-slow', ['L-1', 'L-2']));
      check('a valid batch while slow clients hold connections', [202], during.status);
      check('answered within 5 s while slow clients hold connections', [1], performance.now() - t0 < 5000 ? 1 : 0);
      if (during.status === 202) ['L-1', 'L-2'].forEach((id) => accepted.add(id));
    } finally {
      clearInterval(drip);
    }

    // Kafka holds exactly one record per accepted item, and nothing of the refused ones.
    const ids = (await h.read('product')).map((r) => parseKey(r.key).entityId).sort();
    const wrong = cases.filter((c) => !c.allowed.includes(c.status));
    const duplicates = ids.length - new Set(ids).size;
    report({ test: name, events: cases.length, faults: `${cases.length} hostile or careless requests, ${options.slowClients} slow clients`, lost: [...accepted].filter((id) => !ids.includes(id)).length + wrong.length, stale: 0, duplicates, recoverySeconds: (Date.now() - started) / 1000 });
    expect(wrong.map((c) => `${c.name}: ${c.status} (want ${c.allowed.join(' or ')})`)).toEqual([]);
    expect(ids).toEqual([...accepted].sort());
  } finally {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) await server.close().catch(() => undefined);
    await h.cleanup();
  }
}
