import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Secrets are redacted by path wherever they could appear: request headers
 * (signatures, API keys), config objects, and error contexts.
 */
export const REDACT_PATHS = [
  'secret',
  'secrets',
  'password',
  'apiKey',
  'api_key',
  'authorization',
  '*.secret',
  '*.secrets',
  '*.password',
  '*.apiKey',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-magento-webhook-signature"]',
  'req.headers["x-rag-signature"]',
  'req.headers["x-wc-webhook-signature"]',
  'req.headers["api-key"]',
  'headers.authorization',
  'headers["api-key"]',
];

/**
 * The process logger, JSON lines on stdout unless `destination` says otherwise. It is also what
 * kafkajs writes to (`createKafka(config, { logger })`): pino's `Logger` is a `KafkaLogSink`.
 */
export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'ragsync',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    options.destination,
  );
}
