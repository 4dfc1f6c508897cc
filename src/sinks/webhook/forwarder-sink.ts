import { createHmac } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { WebhookTarget } from '../../config/index.js';
import { PermanentError, RetryableError, describeError } from '../../core/errors.js';
import { RateLimitedError } from '../../core/signals.js';
import { APPLIED, failed, type Sink, type SinkRecord, type SinkResult } from '../../core/sink.js';
import type { CallGate, GatedSink } from '../call-gate.js';
import { classifyAnswer, type Answer } from './answer.js';
import { batchBody, batchIdOf, toMagentoItem, type MagentoItem } from './format.js';

export interface WebhookForwarderOptions {
  logger?: Logger;
  /** The HTTP client; the global fetch by default (tests give a fake receiver's). */
  fetch?: typeof fetch;
  /** The coordination Redis (the caller's): the gate then also reads the receiver's Retry-After deadline the other replicas set. */
  redis?: Redis;
  /** Epoch ms; the wall clock by default. The batch `timestamp` is the send time. */
  now?: () => number;
}

/** The headers the module README lists; `X-Environment` is always `production`. */
export const USER_AGENT = 'Magento-RagSync/1.0';

interface Entry {
  index: number;
  record: SinkRecord;
  item: MagentoItem;
}

/**
 * The receiver's name in errors and logs: the target name and its URL without credentials or
 * query (either may carry a token), never the secret.
 */
export function receiverLabel(target: Pick<WebhookTarget, 'name' | 'url'>): string {
  const url = new URL(target.url);
  return `webhook receiver ${target.name} (${url.origin}${url.pathname})`;
}

/**
 * Forwards change records to an HTTP receiver in the Magento RagSync webhook format
 * (docs/connectors/webhook-forwarder.md): signed batches of at most `batchSize` items, each POSTed
 * to `target.url`, with a batch id derived from the records so a resend is deduplicated.
 *
 * Per record: applied when the receiver took it (2xx), or without a request when it is not this
 * receiver's (a store outside `stores`, a price or stock aspect, which the format has no item
 * for); failed alone when the receiver named it as invalid. A write throws, classified
 * (src/core/sink.ts), when a batch failed as a whole: RetryableError for 408/429/5xx, a timeout or
 * a network error (with the receiver's Retry-After), SystemError for 401/403/404, PermanentError
 * for another 4xx that names no item. Batches sent before the one that threw were taken; they are
 * sent again on the retry with the same batch ids, which the receiver answers as duplicates.
 */
export class WebhookForwarderSink implements Sink<unknown>, GatedSink {
  readonly target: string;
  private readonly label: string;
  private readonly fetch: typeof fetch;
  private gate: CallGate | undefined;
  private readonly redis: Redis | undefined;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly webhook: WebhookTarget,
    private readonly tenant: string,
    options: WebhookForwarderOptions = {},
  ) {
    // Tenant-qualified: receiver names are unique within a tenant only, and the breaker and rate
    // limit are keyed by the target name.
    this.target = `webhook:${tenant}/${webhook.name}`;
    this.label = receiverLabel(webhook);
    const plain = options.fetch ?? globalThis.fetch;
    this.fetch = (input, init) => (this.gate ? this.gate.fetch(plain) : plain)(input, init);
    this.now = options.now ?? Date.now;
    this.redis = options.redis;
    this.logger = options.logger?.child({ target: this.target, tenant });
  }

  async connect(): Promise<void> {
    // Nothing to open: every batch is one request.
  }

  /** The rate limit's gate: every request waits for the receiver's Retry-After deadline. */
  useCallGate(gate: CallGate): void {
    this.gate = gate;
    if (this.redis) gate.watch(this.redis);
  }

  async close(): Promise<void> {}

  async write(records: readonly SinkRecord<unknown>[]): Promise<SinkResult[]> {
    const results: SinkResult[] = new Array<SinkResult>(records.length);
    const entries: Entry[] = [];
    let skipped = 0;
    records.forEach((record, index) => {
      try {
        const result = toMagentoItem(record, this.tenant, this.webhook.stores);
        if ('skip' in result) {
          results[index] = APPLIED;
          skipped += 1;
        } else entries.push({ index, record, item: result.item });
      } catch (error) {
        results[index] = failed(error);
      }
    });
    if (skipped > 0) this.logger?.debug({ skipped }, 'records not for this receiver: applied without a request');
    for (let start = 0; start < entries.length; start += this.webhook.batchSize) {
      await this.sendChunk(entries.slice(start, start + this.webhook.batchSize), results);
    }
    return results;
  }

  /** Sends one batch; when the receiver names invalid items of a refused batch, sends the rest again without them. */
  private async sendChunk(chunk: Entry[], results: SinkResult[]): Promise<void> {
    let pending = chunk;
    while (pending.length > 0) {
      const answer = await this.post(pending);
      if (answer.kind === 'error') throw answer.error;
      if (answer.kind === 'applied') {
        pending.forEach((entry, i) => {
          const reason = answer.rejected.get(i);
          results[entry.index] = reason === undefined ? APPLIED : failed(this.itemRefused(entry, reason));
        });
        if (answer.rejected.size > 0) this.logger?.warn({ rejected: answer.rejected.size }, 'the receiver left invalid items out of a batch');
        return;
      }
      if (answer.named.size === 0) throw answer.error;
      const rest: Entry[] = [];
      pending.forEach((entry, i) => {
        const reason = answer.named.get(i);
        if (reason === undefined) rest.push(entry);
        else results[entry.index] = failed(this.itemRefused(entry, reason));
      });
      this.logger?.warn({ refused: answer.named.size, resent: rest.length }, 'the receiver refused a batch for invalid items: sending the rest without them');
      pending = rest;
    }
  }

  private itemRefused(entry: Entry, reason: string): PermanentError {
    return new PermanentError(`${this.label} refused ${entry.item.type} ${entry.item.id} (store ${entry.item.store_id}): ${reason}`, { code: 'webhook_item_refused' });
  }

  private async post(entries: Entry[]): Promise<Answer> {
    const batchId = batchIdOf(this.tenant, this.webhook.name, entries.map((e) => e.record));
    const body = JSON.stringify(batchBody(batchId, entries.map((e) => e.item), this.now()));
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(this.webhook.url, {
        method: 'POST',
        headers: signedHeaders(body, this.webhook.secret),
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.webhook.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      // The gate refused the call (src/sinks/call-gate.ts): no request was made.
      if (error instanceof RateLimitedError) throw error;
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const why = timedOut ? `did not answer within ${this.webhook.timeoutMs} ms` : `could not be reached (${networkReason(error)})`;
      throw new RetryableError(`${this.label} ${why}`, { code: timedOut ? 'webhook_timeout' : 'webhook_unreachable', cause: error });
    }
    this.logger?.debug({ batch_id: batchId, items: entries.length, status: response.status }, 'batch sent');
    return classifyAnswer(this.label, response.status, response.headers.get('retry-after'), text, entries.length, this.now());
  }
}

/** `sha256=<hex HMAC-SHA256 of the exact bytes sent>`, as the module signs (src/producers/magento/signature.ts checks it). */
export function signature(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The module's headers over the exact bytes sent. */
export function signedHeaders(body: string, secret: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-environment': 'production',
    'x-magento-webhook-signature': signature(body, secret),
  };
}

/** fetch's own message is "fetch failed"; the reason is in its cause (ECONNREFUSED, ENOTFOUND, …). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return describeError(error);
}
