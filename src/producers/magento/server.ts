import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Config, TenantConfig } from '../../config/index.js';
import type { ChangeSink } from '../../core/changes.js';
import type { EntityType } from '../../core/entities.js';
import { TENANT_PATTERN } from '../../core/keys.js';
import { HEADERS } from '../../core/records.js';
import { createRedisBatchDedupe, type BatchDedupe } from './dedupe.js';
import { parseWebhookBody, type Route } from './payload.js';
import { answerPublishFailure } from './publish-outcome.js';
import { signatureHeader, verifySignature } from './signature.js';
import { decodeWebhook } from './to-changes.js';
import { createVersionClock, type StampResult, type VersionClock } from './version-clock.js';

export interface WebhookServerOptions {
  config: Pick<Config, 'tenants' | 'webhook' | 'redis' | 'kafka'>;
  sink: ChangeSink;
  /** Batch dedupe store; null turns dedupe off (every delivery is published). */
  redis: Redis | null;
  /** A pino logger; give it WEBHOOK_LOG_REDACT so signatures never reach the log. */
  logger?: Logger;
  /** Answers the status route's `kafka` field; `unknown` when not given. */
  kafkaHealth?: () => Promise<boolean>;
  /** Issues source versions; by default a clock on the wall time with `webhook.maxVersionLeadSeconds`. */
  versionClock?: VersionClock;
}

/** Header paths pino must redact in request logs. */
export const WEBHOOK_LOG_REDACT = [
  'req.headers["x-magento-webhook-signature"]',
  'req.headers["x-rag-signature"]',
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

/**
 * The Magento RagSync webhook ingress (docs/connectors/magento-webhook.md). Every POST is checked
 * in this order: tenant known (404), signature of the raw body (401), body valid in full (400,
 * nothing published), batch not delivered before (202 duplicate), published and acknowledged by
 * Kafka (202) or not (503 with Retry-After, so the module retries the whole batch).
 * Returns the fastify instance, not listening yet.
 */
export function createWebhookServer(options: WebhookServerOptions): FastifyInstance {
  const { config, sink } = options;
  const app: FastifyInstance = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: config.webhook.bodyLimitBytes,
    genReqId: () => randomUUID(),
  });
  const dedupe: BatchDedupe | null = options.redis
    ? createRedisBatchDedupe(options.redis, { keyPrefix: config.redis.keyPrefix, windowSeconds: config.webhook.dedupeWindowSeconds })
    : null;
  const clock = options.versionClock ?? createVersionClock({ maxLeadSeconds: config.webhook.maxVersionLeadSeconds });
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

    const parsed = parseWebhookBody(raw, route);
    if ('failure' in parsed) return reply.code(400).send(parsed.failure);
    const decoded = decodeWebhook(parsed, tenant, tenantConfig.stores, clock);
    if (!decoded.ok) return reply.code(400).send(decoded.failure);
    const body = decoded.decoded;

    const maxAge = config.webhook.maxAgeSeconds;
    if (maxAge > 0) {
      const ageSeconds = Math.abs(Date.now() - Number(body.timestampMicros / 1000n)) / 1000;
      if (ageSeconds > maxAge) {
        return reply.code(401).send({ error: 'stale_timestamp', message: `the body's timestamp is more than ${maxAge}s from the server time` });
      }
    }

    const batchId = body.batchId ?? randomUUID();
    const log = request.log.child({ tenant, batch_id: batchId, items: body.itemCount });
    if (body.batchId !== null && dedupe && (await dedupe.seen(tenant, body.batchId).catch((err: unknown) => warnRedis(log, err)))) {
      log.info('duplicate batch answered without publishing');
      return reply.code(202).send({ accepted: 0, duplicate: true, batch_id: batchId });
    }

    logVersionRule(log, body.stamp, config.webhook.maxVersionLeadSeconds, latestTimestamp.get(tenant), body.timestampMicros);
    if ((latestTimestamp.get(tenant) ?? -1n) < body.timestampMicros) latestTimestamp.set(tenant, body.timestampMicros);

    for (const message of body.messages) message.headers = { ...message.headers, [HEADERS.correlationId]: batchId };

    try {
      await sink.publish(body.messages, { timeoutMs: config.kafka.ackTimeoutMs });
    } catch (error) {
      const answer = answerPublishFailure(error);
      log.warn({ status: answer.status, code: answer.body.error }, 'publish failed');
      if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
      return reply.code(answer.status).send(answer.body);
    }
    if (body.batchId !== null && dedupe) await dedupe.mark(tenant, body.batchId).catch((err: unknown) => warnRedis(log, err));
    const versions = body.stamp.versions;
    log.info({ records: body.messages.length, versions: [versions[0]!.toString(), versions[versions.length - 1]!.toString()] }, 'batch published');
    return reply.code(202).send({ accepted: body.itemCount, records: body.messages.length, batch_id: batchId });
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

function warnRedis(log: { warn: (obj: object, msg: string) => void }, error: unknown): false {
  log.warn({ err: error }, 'batch dedupe unavailable; publishing anyway (versions make a resend harmless)');
  return false;
}
