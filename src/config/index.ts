export { configSchema, type Config, type TenantConfig } from './schema.js';
export type { ShopwareTarget, WoocommerceTarget, WebhookTarget, Targets } from './targets.js';
export { loadConfig, redactConfig, ENV_VARS, type LoadOptions } from './load.js';
