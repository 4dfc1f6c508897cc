export { configSchema, type Config, type TenantConfig } from './schema.js';
export { loadConfig, redactConfig, ENV_VARS, type LoadOptions } from './load.js';
