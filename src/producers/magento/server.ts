import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Config, TenantConfig } from '../../config/index.js';
import type { ChangeSink } from '../../core/changes.js';
import type { EntityType } from '../../core/entities.js';
import { TENANT_PATTERN } from '../../core/keys.js';
import { HEADERS } from '../../core/records.js';
import { publishUnits, type UnitRefusal } from '../publish-units.js';
import { createRedisBatchDedupe, type BatchDedupe, type ClaimResult } from './dedupe.js';
import { parseWebhookBody, validationFailure, type ItemIdentity, type Route } from './payload.js';
import { answerPublishFailure } from './publish-outcome.js';
import { signatureHeader, verifySignature } from './signature.js';
import { decodeWebhook, type DecodedItem } from './to-changes.js';
import { createVersionClock, type StampResult, type VersionClock } from './version-clock.js';
import { registerWoocommerceWebhook } from '../woocommerce/webhook.js';

export interface WebhookServerOptions {
  config: Pick<Config, 'tenants' | 'webhook' | 'redis' | 'kafka' | 'topics' | 'ingress'>;
  sink: ChangeSink;
  /** Batch dedupe store; null turns dedupe off (every delivery is published). */
  redis: Redis | null;
  /** A pino logger; give it WEBHOOK_LOG_REDACT so signatures never reach the log. */
  logger?: Logger;
  /** Answers the status route's `kafka` field; `unknown` when not given. */
  kafkaHealth?: () => Promise<boolean>;
  /** Issues source versions; by default a clock on `now` with `webhook.maxVersionLeadSeconds`. */
  versionClock?: VersionClock;
  /** The server's clock in epoch ms, for the time window of event times; the wall clock by default. */
  now?: () => number;
}

/** Header paths pino must redact in request logs. */
export const WEBHOOK_LOG_REDACT = [
  'req.headers["x-magento-webhook-signature"]',
  'req.headers["x-rag-signature"]',
  'req.headers["x-wc-webhook-signature"]',
  'req.headers.authorization',
];

export const WEBHOOK_BASE = '/api/webhooks/magento';

/** URL segment → entity type of the single-entity routes. */
const SINGLE_ROUTES: Record<string, EntityType> = {
  product: 'product',
  category: 'category',
  'cms-page': 'cms_page',
  'cms-block': 'cms_block',
  promotion: 'promotion',
};

type TenantParams = { tenant: string };

/** How often a request waits for an identical one in flight to settle (its batch_id is claimed). */
const CLAIM_POLL_MS = 50;

/** Seconds the sender is asked to wait when an identical request was still being published. */
const IN_PROGRESS_RETRY_AFTER_SECONDS = 5;

/**
 * The Magento RagSync webhook ingress (docs/connectors/magento-webhook.md). Every POST is checked
 * in this order: tenant known (404), signature of the raw body (401), envelope valid (400, nothing
 * published), items valid (an invalid item is left out and named in the answer, or with
 * `webhook.invalidItems: refuse-batch` fails the batch), batch not delivered before (202
 * duplicate; an identical request in flight is waited for), published and acknowledged by Kafka
 * (202) or not (503 with Retry-After, so the module retries the whole batch). A 202 means every
 * record of every accepted item is in Kafka; a 4xx means no record of the body was produced.
 * Returns the fastify instance, not listening yet.
 */
export function createWebhookServer(options: WebhookServerOptions): FastifyInstance {
  const { config, sink } = options;
  const now = options.now ?? Date.now;
  const app: FastifyInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: config.webhook.bodyLimitBytes,
    genReqId: () => randomUUID(),
  });
  const dedupe: BatchDedupe | null = options.redis
    ? createRedisBatchDedupe(options.redis, {
        keyPrefix: config.redis.keyPrefix,
        topicPrefix: config.topics.prefix,
        windowSeconds: config.webhook.dedupeWindowSeconds,
        // A claim outlives any publish (the ack deadline) by a margin; a holder that died frees it then.
        pendingMs: config.kafka.ackTimeoutMs + 30_000,
      })
    : null;
  const clock = options.versionClock ?? createVersionClock({ maxLeadSeconds: config.webhook.maxVersionLeadSeconds, now });
  // Per tenant, the latest body timestamp seen: only to log when arrival order decided (below).
  const latestTimestamp = new Map<string, bigint>();

  // The signature covers the exact bytes sent, so bodies are kept raw and parsed after the check.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: 'body_too_large', message: `the body is over ${config.webhook.bodyLimitBytes} bytes; send smaller batches` });
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'webhook request failed');
    return reply.code(status).send({ error: status === 500 ? 'internal_error' : (error.code ?? 'bad_request'), message: error.message });
  });

  const tenantOf = (request: FastifyRequest<{ Params: TenantParams }>): TenantConfig | undefined => {
    const tenant = request.params.tenant;
    return TENANT_PATTERN.test(tenant) && Object.hasOwn(config.tenants, tenant) ? config.tenants[tenant] : undefined;
  };

  const unknownTenant = (reply: FastifyReply) => reply.code(404).send({ error: 'unknown_tenant', message: 'no such tenant' });

  /**
   * Claims the batch id; while an identical request holds it, waits (until the ack deadline) for
   * that one to settle: it either delivered the batch (this one is a duplicate) or released it.
   */
  const claimBatch = async (tenant: string, batchId: string, log: FastifyBaseLogger): Promise<ClaimResult | null> => {
    if (!dedupe) return null;
    const deadline = Date.now() + config.kafka.ackTimeoutMs;
    try {
      for (;;) {
        const result = await dedupe.claim(tenant, batchId);
        if (result.state !== 'pending' || Date.now() + CLAIM_POLL_MS > deadline) return result;
        await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
      }
    } catch (error) {
      return warnRedis(log, error);
    }
  };

  const receive = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply, route: Route) => {
    const tenantConfig = tenantOf(request);
    if (!tenantConfig) return unknownTenant(reply);
    const tenant = request.params.tenant;
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

    const header = signatureHeader(request.headers);
    if (!verifySignature(raw, header, tenantConfig.secrets)) {
      request.log.warn({ tenant, signature: header === undefined ? 'missing' : 'invalid' }, 'webhook signature rejected');
      return reply.code(401).send({
        error: header === undefined ? 'missing_signature' : 'invalid_signature',
        message: 'X-Magento-Webhook-Signature must be sha256=<hex HMAC-SHA256 of the raw body with the tenant secret>',
      });
    }

    const nowMs = now();
    const parsed = parseWebhookBody(raw, route, { nowMs, maxFutureSeconds: config.ingress.maxFutureSeconds });
    if ('failure' in parsed) return reply.code(400).send(parsed.failure);
    const decoded = decodeWebhook(parsed, tenant, tenantConfig.stores, clock);
    if (!decoded.ok) return reply.code(400).send(decoded.failure);
    const body = decoded.decoded;

    const maxAge = config.webhook.maxAgeSeconds;
    if (maxAge > 0) {
      const ageSeconds = Math.abs(nowMs - Number(body.timestampMicros / 1000n)) / 1000;
      if (ageSeconds > maxAge) {
        return reply.code(401).send({ error: 'stale_timestamp', message: `the body's timestamp is more than ${maxAge}s from the server time` });
      }
    }

    const batchId = body.batchId ?? randomUUID();
    const log = request.log.child({ tenant, batch_id: batchId, items: body.itemCount });
    if (body.warnings.length > 0) log.warn({ warnings: body.warnings }, 'values kept without being understood');
    const refuseBatch = config.webhook.invalidItems === 'refuse-batch';
    if (body.items.length === 0 || (refuseBatch && body.failures.length > 0)) {
      log.info({ rejected: body.failures }, 'batch refused: invalid items');
      return reply.code(400).send(validationFailure([], body.failures));
    }

    const claim = body.batchId === null ? null : await claimBatch(tenant, body.batchId, log);
    if (claim?.state === 'done') {
      log.info('duplicate batch answered without publishing');
      return reply.code(202).send({ accepted: 0, duplicate: true, batch_id: batchId });
    }
    if (claim?.state === 'pending') {
      log.info('an identical batch is still being published');
      reply.header('retry-after', String(IN_PROGRESS_RETRY_AFTER_SECONDS));
      return reply.code(503).send({ error: 'batch_in_progress', message: 'a request with this batch_id is being published; retry later (it will be answered as a duplicate once stored)' });
    }
    const held = claim?.state === 'claimed' ? claim.claim : null;

    logVersionRule(log, body.stamp, config.webhook.maxVersionLeadSeconds, latestTimestamp.get(tenant), body.timestampMicros);
    if ((latestTimestamp.get(tenant) ?? -1n) < body.timestampMicros) latestTimestamp.set(tenant, body.timestampMicros);

    for (const item of body.items) for (const message of item.messages) message.headers = { ...message.headers, [HEADERS.correlationId]: batchId };

    let refused: UnitRefusal[];
    try {
      refused = await publishUnits(sink, body.items, { timeoutMs: config.kafka.ackTimeoutMs, dataPath: 'data', leaveOut: !refuseBatch });
    } catch (error) {
      await held?.release().catch((err: unknown) => warnRedis(log, err));
      const answer = answerPublishFailure(error);
      log.warn({ status: answer.status, code: answer.body.error }, 'publish failed');
      if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
      return reply.code(answer.status).send(answer.body);
    }
    const failures = [...body.failures, ...refused.map(({ unit, issues }) => ({ index: body.items[unit]!.index, ...identityOf(body.items[unit]!), fields: issues }))].sort((a, b) => a.index - b.index);
    const left = new Set(refused.map((r) => r.unit));
    const published = body.items.filter((_, unit) => !left.has(unit));
    if (published.length === 0 || (refuseBatch && refused.length > 0)) {
      await held?.release().catch((err: unknown) => warnRedis(log, err));
      log.info({ rejected: failures }, 'batch refused: no item could be published');
      return reply.code(400).send(validationFailure([], failures));
    }
    await held?.done().catch((err: unknown) => warnRedis(log, err));
    const records = published.reduce((n, item) => n + item.messages.length, 0);
    const versions = body.stamp.versions;
    if (failures.length > 0) log.warn({ rejected: failures }, 'invalid items left out of the batch');
    log.info({ records, versions: [versions[0]!.toString(), versions[versions.length - 1]!.toString()] }, 'batch published');
    return reply.code(202).send({
      accepted: published.length,
      records,
      batch_id: batchId,
      ...(failures.length > 0 ? { rejected: failures } : {}),
      ...(body.warnings.length > 0 ? { warnings: body.warnings } : {}),
    });
  };

  app.post<{ Params: TenantParams }>(`${WEBHOOK_BASE}/:tenant/batch`, (request, reply) => receive(request, reply, { kind: 'batch' }));
  for (const [segment, type] of Object.entries(SINGLE_ROUTES)) {
    app.post<{ Params: TenantParams }>(`${WEBHOOK_BASE}/:tenant/${segment}`, (request, reply) => receive(request, reply, { kind: 'single', type }));
    app.post<{ Params: TenantParams }>(`${WEBHOOK_BASE}/:tenant/${segment}/delete`, (request, reply) =>
      receive(request, reply, { kind: 'single', type, forceAction: 'delete' }),
    );
  }

  // Health check for the module's "Test Connection". It needs no signature; one that is sent is
  // checked (over the empty body), so the button also proves the secret matches.
  app.get<{ Params: TenantParams }>(`${WEBHOOK_BASE}/:tenant/status`, async (request, reply) => {
    const tenantConfig = tenantOf(request);
    if (!tenantConfig) return unknownTenant(reply);
    const header = signatureHeader(request.headers);
    if (header !== undefined && !verifySignature(Buffer.alloc(0), header, tenantConfig.secrets)) {
      return reply.code(401).send({ error: 'invalid_signature', message: 'the signature of the empty body does not match any active secret' });
    }
    let kafka: 'connected' | 'unreachable' | 'unknown' = 'unknown';
    if (options.kafkaHealth) kafka = (await options.kafkaHealth().catch(() => false)) ? 'connected' : 'unreachable';
    return reply.code(200).send({ tenant: request.params.tenant, status: kafka === 'unreachable' ? 'degraded' : 'ok', kafka, authenticated: header !== undefined });
  });

  // WooCommerce product webhooks, on the same server (docs/connectors/woocommerce-source.md).
  registerWoocommerceWebhook(app, { config, sink, redis: options.redis, now });

  return app;
}

const isoOf = (micros: bigint) => new Date(Number(micros / 1000n)).toISOString();

/**
 * Says where the version rule (version-clock.ts) departed from the sender's time: a timestamp no
 * later than an earlier request's (several requests of one queue flush; the old "timestamp + index"
 * rule mis-ordered exactly these), and a sender clock ahead of ours by more than the allowed lead.
 */
function logVersionRule(log: FastifyBaseLogger, stamp: StampResult, maxLeadSeconds: number, previous: bigint | undefined, timestamp: bigint): void {
  if (previous !== undefined && timestamp <= previous) {
    log.debug({ timestamp: isoOf(timestamp), latest_timestamp: isoOf(previous) }, 'timestamp not after an earlier request\'s: versions follow arrival order');
  }
  if (stamp.capped > 0) {
    const aheadSeconds = Number(stamp.sourceLeadMicros / 1000n) / 1000;
    const fields = { capped_items: stamp.capped, ahead_seconds: aheadSeconds, max_version_lead_seconds: maxLeadSeconds };
    // Clocks a fraction of a second apart are normal; more is worth fixing at the sender.
    if (aheadSeconds - maxLeadSeconds >= 1) log.warn(fields, 'sender time is ahead of the server clock: versions capped');
    else log.debug(fields, 'sender time is ahead of the server clock: versions capped');
  }
}

function warnRedis(log: { warn: (obj: object, msg: string) => void }, error: unknown): null {
  log.warn({ err: error }, 'batch dedupe unavailable; publishing anyway (versions make a resend harmless)');
  return null;
}

function identityOf(item: DecodedItem): ItemIdentity {
  return { ...(item.type === undefined ? {} : { type: item.type }), ...(item.id === undefined ? {} : { id: item.id }) };
}
