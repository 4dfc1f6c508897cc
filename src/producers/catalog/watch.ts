import { stat } from 'node:fs/promises';

export interface WatchOptions {
  intervalMs: number;
  /** Runs one sync; its errors are reported and the watch goes on. */
  onChange: () => Promise<void>;
  onError: (error: unknown) => void;
  signal: AbortSignal;
}

/**
 * Polls a catalog file and runs a sync when its size or modification time changed (and once at
 * start). Polling, not fs.watch: editors and exporters replace files by rename, which inotify
 * watchers lose, and network mounts send no events at all. A failed sync (Kafka down) is retried
 * at the next tick even if the file did not change again.
 */
export async function watchCatalogFile(path: string, options: WatchOptions): Promise<void> {
  let lastSignature = '';
  while (!options.signal.aborted) {
    try {
      const info = await stat(path);
      const signature = `${info.size}:${info.mtimeMs}`;
      if (signature !== lastSignature) {
        await options.onChange();
        lastSignature = signature;
      }
    } catch (error) {
      options.onError(error);
    }
    await sleep(options.intervalMs, options.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
