import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stackEnv, stackLayout, type StackLayout } from './layout.js';
import { isAlive, portOpen, startDaemon, stopDaemon, waitFor } from './processes.js';
import { servicePid, stackServices, type Service } from './services.js';

/**
 * `ragsync stack up|down|status|env`: the real local services every test and the demo run
 * against. Idempotent: `up` starts only what is not running and healthy; `down` stops what runs.
 */
export interface ServiceStatus {
  name: string;
  port: number;
  pid: number | undefined;
  healthy: boolean;
  logFile: string;
}

export type Log = (line: string) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Serialises concurrent `up`/`down` calls (a test run and a developer at once). */
async function withLock<T>(layout: StackLayout, fn: () => Promise<T>): Promise<T> {
  mkdirSync(layout.run, { recursive: true });
  const lock = join(layout.run, 'stack.lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released between our two calls
      }
      // A lock whose holder died (killed mid-`up`) is stale.
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) rmSync(lock, { force: true });
      if (Date.now() > deadline) throw new Error(`another stack command (pid ${holder}) holds ${lock}`);
      await sleep(300);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function statusOf(service: Service): Promise<ServiceStatus> {
  const pid = servicePid(service);
  return { name: service.name, port: service.port, pid, healthy: pid !== undefined && (await service.healthy()), logFile: service.logFile };
}

export async function stackUp(log: Log, layout = stackLayout()): Promise<ServiceStatus[]> {
  return withLock(layout, async () => {
    const statuses: ServiceStatus[] = [];
    const services = stackServices(layout);
    // Prerequisites and downloads first, so a missing one fails before anything starts.
    for (const service of services) await service.prepare(log);
    for (const service of services) {
      const before = await statusOf(service);
      if (before.healthy) {
        log(`${service.name}: already running (pid ${before.pid}, 127.0.0.1:${service.port})`);
        statuses.push(before);
        continue;
      }
      let pid = before.pid;
      if (pid === undefined) {
        if (await portOpen(service.port)) {
          throw new Error(`${service.name}: port ${service.port} on 127.0.0.1 is used by another process; stop it or set RAGSYNC_STACK_${service.name.toUpperCase()}_PORT`);
        }
        pid = startDaemon(service.daemon());
        log(`${service.name}: starting (pid ${pid}, log ${service.logFile})`);
      } else {
        log(`${service.name}: running (pid ${pid}), waiting until healthy`);
      }
      await waitFor(service.name, () => service.healthy(), { timeoutMs: service.startTimeoutMs, logFile: service.logFile, pid });
      log(`${service.name}: healthy on 127.0.0.1:${service.port}`);
      statuses.push(await statusOf(service));
    }
    return statuses;
  });
}

export async function stackDown(log: Log, layout = stackLayout()): Promise<void> {
  await withLock(layout, async () => {
    for (const service of stackServices(layout).reverse()) {
      const stopped = await stopDaemon(service.pidFile);
      log(stopped ? `${service.name}: stopped` : `${service.name}: not running`);
      const deadline = Date.now() + 15_000;
      while ((await portOpen(service.port)) && Date.now() < deadline) await sleep(200);
      if (await portOpen(service.port)) log(`${service.name}: port ${service.port} is still in use by another process`);
    }
  });
}

export async function stackStatus(layout = stackLayout()): Promise<ServiceStatus[]> {
  return Promise.all(stackServices(layout).map(statusOf));
}

export function stackEnvLines(layout = stackLayout()): string[] {
  return Object.entries(stackEnv(layout)).map(([k, v]) => `${k}=${v}`);
}
