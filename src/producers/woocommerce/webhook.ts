import { isUtf8 } from 'node:buffer';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import type { Config, WoocommerceTarget } from '../../config/index.js';
import type { ChangeSink } from '../../core/changes.js';
import { TENANT_PATTERN } from '../../core/keys.js';
import { HEADERS } from '../../core/records.js';
import { itemToMessages } from '../items/to-messages.js';
import { checkEventTime } from '../items/timestamp.js';
import { createRedisBatchDedupe, type BatchClaim, type BatchDedupe, type ClaimResult } from '../magento/dedupe.js';
import { answerPublishFailure } from '../magento/publish-outcome.js';
import { publishUnits } from '../publish-units.js';
import { gmtMillis, isOwnWrite, isPing, productData, productIdOf, verifyWooSignature } from './webhook-product.js';

export interface WoocommerceWebhookDeps {
  config: Pick<Config, 'tenants' | 'webhook' | 'redis' | 'kafka' | 'topics' | 'ingress'>;
  sink: ChangeSink;
  /** Delivery dedupe store; null turns dedupe off. */
  redis: Redis | null;
  /** Epoch ms; the wall clock by default. */
  now?: () => number;
}

/** What the route did, since the process started: `echoes` are ragsync's own writes coming back. */
export interface WoocommerceWebhookCounts {
  published: number;
  echoes: number;
  duplicates: number;
  pings: number;
  ignored: number;
  refused: number;
}

export const WOOCOMMERCE_WEBHOOK_BASE = '/api/webhooks/woocommerce';

/** Header paths pino must redact in request logs. */
export const WOOCOMMERCE_LOG_REDACT = ['req.headers["x-wc-webhook-signature"]'];

const SAVE_EVENTS = new Set(['product.created', 'product.updated', 'product.restored']);
const CLAIM_POLL_MS = 50;
const NANOS_PER_MILLI = 1_000_000n;

type Params = { tenant: string };

const header = (value: string | string[] | undefined) => (typeof value === 'string' && value.length > 0 ? value : undefined);

/**
 * `POST /api/webhooks/woocommerce/<tenant>`: WooCommerce product webhooks as `changes.product`
 * (docs/connectors/woocommerce-source.md). Checked in this order: tenant with a WooCommerce
 * `webhookSecret` (404), the ping WooCommerce sends when a webhook is saved (200, nothing
 * published), `X-WC-Webhook-Signature` (401, no detail), topic (other than product.* → 200,
 * ignored), body (400), ragsync's own write coming back (200, nothing published), delivery seen
 * before (200 duplicate), published and acknowledged by Kafka (202) or not (503).
 * Registered in its own scope, with its own raw-body parser. Returns the route's counts.
 */
export function registerWoocommerceWebhook(app: FastifyInstance, deps: WoocommerceWebhookDeps): WoocommerceWebhookCounts {
  const { config, sink } = deps;
  const now = deps.now ?? Date.now;
  const counts: WoocommerceWebhookCounts = { published: 0, echoes: 0, duplicates: 0, pings: 0, ignored: 0, refused: 0 };
  // Its own key space: a WooCommerce delivery and a Magento batch id never meet.
  const dedupe: BatchDedupe | null = deps.redis
    ? createRedisBatchDedupe(deps.redis, {
        keyPrefix: `${config.redis.keyPrefix}woocommerce:`,
        topicPrefix: config.topics.prefix,
        windowSeconds: config.webhook.dedupeWindowSeconds,
        pendingMs: config.kafka.ackTimeoutMs + 30_000,
      })
    : null;

  const claim = async (tenant: string, key: string, log: FastifyBaseLogger): Promise<ClaimResult | null> => {
    if (!dedupe) return null;
    const deadline = Date.now() + config.kafka.ackTimeoutMs;
    try {
      for (;;) {
        const result = await dedupe.claim(tenant, key);
        if (result.state !== 'pending' || Date.now() + CLAIM_POLL_MS > deadline) return result;
        await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
      }
    } catch (error) {
      log.warn({ err: error }, 'delivery dedupe unavailable; publishing anyway (versions make a resend harmless)');
      return null;
    }
  };

  const settle = async (held: BatchClaim | null, outcome: 'done' | 'release', log: FastifyBaseLogger) => {
    await held?.[outcome]().catch((error: unknown) => log.warn({ err: error }, 'delivery dedupe unavailable'));
  };

  const refuse = (reply: FastifyReply, status: number, error: string, message: string) => {
    counts.refused += 1;
    return reply.code(status).send({ error, message });
  };

  void app.register(async (scope) => {
    // The signature covers the exact bytes sent: bodies are kept raw and parsed after the check.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    scope.post<{ Params: Params }>(`${WOOCOMMERCE_WEBHOOK_BASE}/:tenant`, { bodyLimit: config.webhook.bodyLimitBytes }, async (request, reply) => {
      const tenant = request.params.tenant;
      const target: WoocommerceTarget | undefined = TENANT_PATTERN.test(tenant) && Object.hasOwn(config.tenants, tenant) ? config.tenants[tenant]!.targets.woocommerce : undefined;
      const secret = target?.webhookSecret;
      if (!target || secret === undefined) return refuse(reply, 404, 'unknown_tenant', 'no such tenant');
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const topic = header(request.headers['x-wc-webhook-topic']);

      if (isPing(raw, topic)) {
        counts.pings += 1;
        request.log.info({ tenant }, 'WooCommerce webhook ping answered');
        return reply.code(200).send({ ok: true });
      }
      if (!verifyWooSignature(raw, header(request.headers['x-wc-webhook-signature']), secret)) {
        request.log.warn({ tenant }, 'WooCommerce webhook signature rejected');
        return refuse(reply, 401, 'invalid_signature', 'the request is not signed with this tenant\'s webhook secret');
      }
      if (topic === undefined) return refuse(reply, 400, 'missing_topic', 'X-WC-Webhook-Topic is required');
      const isDelete = topic === 'product.deleted';
      if (!isDelete && !SAVE_EVENTS.has(topic)) {
        // Answered 2xx so WooCommerce does not count failures and disable the webhook.
        counts.ignored += 1;
        return reply.code(200).send({ ignored: true, topic });
      }

      // JSON is UTF-8: other bytes would be decoded to U+FFFD silently, a text the shop never sent.
      if (!isUtf8(raw)) return refuse(reply, 400, 'invalid_utf8', 'the body is not valid UTF-8');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        return refuse(reply, 400, 'malformed_json', 'the body is not valid JSON');
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) return refuse(reply, 400, 'validation_failed', 'expected a JSON object');
      const product = json as Record<string, unknown>;
      const id = productIdOf(product);
      if (id === undefined) return refuse(reply, 400, 'validation_failed', 'id: expected a positive integer');
      const deliveryId = header(request.headers['x-wc-webhook-delivery-id']);
      const log = request.log.child({ tenant, topic, product_id: id, ...(deliveryId === undefined ? {} : { delivery_id: deliveryId }) });

      if (!isDelete && isOwnWrite(product)) {
        counts.echoes += 1;
        log.info('ragsync\'s own write came back: not published');
        return reply.code(200).send({ accepted: 0, echo: true });
      }

      // The version is the product's last modification (whole seconds, rising per product); a
      // delete carries only the id, so it takes the arrival time. A time that is unreadable or
      // ahead of the clock beyond the window would outrank later updates: arrival time then too.
      const arrival = now();
      let at = isDelete ? arrival : gmtMillis(product.date_modified_gmt);
      if (at === undefined || checkEventTime(BigInt(at) * 1000n, { nowMs: arrival, maxFutureSeconds: config.ingress.maxFutureSeconds }) !== undefined) {
        log.warn({ date_modified_gmt: typeof product.date_modified_gmt === 'string' ? product.date_modified_gmt.slice(0, 40) : typeof product.date_modified_gmt }, 'date_modified_gmt unreadable or ahead of the clock: arrival time used as version');
        at = arrival;
      }
      const built = itemToMessages(
        { type: 'product', id, action: isDelete ? 'delete' : 'save', storeId: target.sourceStoreId, ...(isDelete ? {} : { data: productData(product) }) },
        { tenant, stores: [target.sourceStoreId], sourceVersion: BigInt(at) * NANOS_PER_MILLI, occurredAt: at },
      );
      if (!built.ok) {
        log.info({ fields: built.issues }, 'WooCommerce product refused');
        counts.refused += 1;
        return reply.code(400).send({ error: 'validation_failed', message: `${built.issues.length} problem(s) in the product; nothing was published`, fields: built.issues });
      }
      const correlation = deliveryId ?? randomUUID();
      for (const message of built.messages) message.headers = { ...message.headers, [HEADERS.correlationId]: correlation };

      // WooCommerce's delivery id is a hash of the webhook id and the current second: deliveries of
      // one webhook within a second share it. With the body's hash it names one delivery.
      const claimed = deliveryId === undefined ? null : await claim(tenant, `${deliveryId}:${createHash('sha256').update(raw).digest('hex').slice(0, 32)}`, log);
      if (claimed?.state === 'done') {
        counts.duplicates += 1;
        log.info('delivery seen before: not published again');
        return reply.code(200).send({ accepted: 0, duplicate: true });
      }
      if (claimed?.state === 'pending') {
        reply.header('retry-after', '5');
        return reply.code(503).send({ error: 'delivery_in_progress', message: 'an identical delivery is being published; retry later' });
      }
      const held = claimed?.state === 'claimed' ? claimed.claim : null;
      try {
        const refused = await publishUnits(sink, [built], { timeoutMs: config.kafka.ackTimeoutMs, dataPath: 'data', leaveOut: false });
        if (refused.length > 0) {
          await settle(held, 'release', log);
          counts.refused += 1;
          return reply.code(400).send({ error: 'validation_failed', message: 'the product was refused; nothing was published', fields: refused[0]!.issues });
        }
      } catch (error) {
        await settle(held, 'release', log);
        const answer = answerPublishFailure(error);
        log.warn({ status: answer.status, code: answer.body.error }, 'publish failed');
        if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
        return reply.code(answer.status).send(answer.body);
      }
      await settle(held, 'done', log);
      counts.published += 1;
      log.info({ records: built.messages.length, version: built.messages[0]!.sourceVersion.toString() }, isDelete ? 'product delete published' : 'product published');
      return reply.code(202).send({ accepted: 1, records: built.messages.length, product_id: id });
    });
  });
  return counts;
}
