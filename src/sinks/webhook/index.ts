export { WebhookForwarderSink, receiverLabel, signedHeaders, type WebhookForwarderOptions } from './forwarder-sink.js';
export { webhookTestConnection } from './test-connection.js';
export { toMagentoItem, batchIdOf, type MagentoItem, type MagentoBatch } from './format.js';
