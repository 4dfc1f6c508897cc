import { Kafka, logLevel } from 'kafkajs';

/**
 * True when the brokers answer a metadata request. Used by `stack up|status` and the test setup,
 * with short timeouts and no retries so a stopped broker is reported at once.
 */
export async function kafkaAnswers(brokers: string[], timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'ragsync-health',
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
