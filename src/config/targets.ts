import { z } from 'zod';

/**
 * Where a tenant's changes are pushed besides the vector store (docs/connectors/shopware.md,
 * woocommerce.md, webhook-forwarder.md). Part of the tenant config (`RAGSYNC_TENANTS` or the
 * config file): credentials are secrets and `config show` masks them.
 */

const url = z.string().url({ error: 'expected an absolute URL, e.g. https://shop.example.com' });
const hex32 = z.string().regex(/^[0-9a-f]{32}$/, { error: 'expected a Shopware id: 32 lowercase hex digits' });
const storeIds = z.array(z.number().int().nonnegative()).min(1);

export const shopwareTargetSchema = z.object({
  /** Base URL of the shop; the Admin API is under `<url>/api`. */
  url,
  /** Integration access key id (starts with SWIA). */
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** Tax rate id new products are created with. */
  taxId: hex32,
  /** Sales channels new products are made visible in; visibility 30 = everywhere. */
  salesChannels: z
    .array(z.object({ id: hex32, visibility: z.union([z.literal(10), z.literal(20), z.literal(30)]).default(30) }))
    .default([]),
  /**
   * Currency ids by ISO code. The shop's default currency id (b7d2554b0ce847cd82f3ac9bd1c0dfca)
   * is used for `defaultCurrency`; a price in another currency needs its id here.
   */
  currencies: z.record(z.string().length(3), hex32).default({}),
  /** ISO code of the shop's default currency. */
  defaultCurrency: z.string().length(3).default('EUR'),
  /** Gross prices: net = gross / (1 + taxRate/100). */
  taxRate: z.number().nonnegative().default(19),
  /** Which store views (Magento store_id) this shop takes; others are skipped. */
  stores: storeIds.default([0]),
  /** Records per `/api/_action/sync` request. */
  batchSize: z.number().int().positive().max(500).default(100),
  /** Request timeout. */
  timeoutMs: z.number().int().positive().default(30_000),
});
export type ShopwareTarget = z.infer<typeof shopwareTargetSchema>;

export const woocommerceTargetSchema = z.object({
  /** Base URL of the WordPress site; the REST API is under `<url>/wp-json/wc/v3`. */
  url,
  consumerKey: z.string().regex(/^ck_/, { error: 'expected a consumer key starting with ck_' }),
  consumerSecret: z.string().regex(/^cs_/, { error: 'expected a consumer secret starting with cs_' }),
  /** `auto`: HTTP Basic over HTTPS, OAuth 1.0a (HMAC-SHA256) over plain HTTP. */
  auth: z.enum(['auto', 'basic', 'oauth']).default('auto'),
  /** Keep a sale price set by hand in the shop (the seed's conflict rule). */
  allowManualOffers: z.boolean().default(false),
  stores: storeIds.default([0]),
  /** Items per `/products/batch` call (WooCommerce refuses more than 100). */
  batchSize: z.number().int().positive().max(100).default(50),
  timeoutMs: z.number().int().positive().default(30_000),
  /** Secret of the product webhooks this shop sends to ragsync (WooCommerce as a source). */
  webhookSecret: z.string().min(1).optional(),
  /** Store id the shop's own changes are published under when it is a source. */
  sourceStoreId: z.number().int().nonnegative().default(0),
});
export type WoocommerceTarget = z.infer<typeof woocommerceTargetSchema>;

export const webhookTargetSchema = z.object({
  /** A name for metrics, the circuit breaker and `test-connection` (unique within the tenant). */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected lowercase letters, digits, _ and -' }),
  url,
  /** HMAC-SHA256 key of `X-Magento-Webhook-Signature`. */
  secret: z.string().min(1),
  stores: storeIds.optional(),
  /** Items per POST. */
  batchSize: z.number().int().positive().max(1000).default(100),
  timeoutMs: z.number().int().positive().default(30_000),
});
export type WebhookTarget = z.infer<typeof webhookTargetSchema>;

export const targetsSchema = z
  .object({
    shopware: shopwareTargetSchema.optional(),
    woocommerce: woocommerceTargetSchema.optional(),
    webhooks: z.array(webhookTargetSchema).default([]),
  })
  .default({ webhooks: [] });
export type Targets = z.infer<typeof targetsSchema>;
