import { join } from 'node:path';
import { APICURIO_VERSION, stackLayout } from '../../src/stack/layout.js';
import { installApicurio } from '../../src/stack/install.js';
import { portOpen, startDaemon, stopDaemon, waitFor } from '../../src/stack/processes.js';
import { createServer } from 'node:net';

/**
 * A second, private Apicurio Registry on its own kafkasql journal topic, so a test can restart
 * a registry without disturbing the one every other test uses.
 */
export interface RegistryInstance {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function privateRegistry(name: string, brokers: string): Promise<RegistryInstance> {
  const layout = stackLayout();
  await installApicurio(layout, () => undefined);
  const port = await freePort();
  const pidFile = join(layout.run, `${name}.pid`);
  const logFile = join(layout.logs, `${name}.log`);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/apis/ccompat/v7`,
    async start() {
      const pid = startDaemon({
        name,
        command: 'java',
        args: ['-Xmx384m', '-jar', join(layout.apicurioHome, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`)],
        cwd: layout.apicurioHome,
        env: {
          APICURIO_STORAGE_KIND: 'kafkasql',
          APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: brokers,
          APICURIO_KAFKASQL_TOPIC: `${name}-journal`,
          APICURIO_KAFKASQL_SNAPSHOTS_TOPIC: `${name}-snapshots`,
          QUARKUS_HTTP_HOST: '127.0.0.1',
          QUARKUS_HTTP_PORT: String(port),
        },
        logFile,
        pidFile,
      });
      await waitFor(
        name,
        async () => {
          if (!(await portOpen(port))) return false;
          const r = await fetch(`${base}/apis/ccompat/v7/subjects`, { signal: AbortSignal.timeout(3000) });
          return r.ok;
        },
        { timeoutMs: 120_000, logFile, pid },
      );
    },
    async stop() {
      await stopDaemon(pidFile, 20_000);
    },
  };
}
