import type { Config } from '../../../src/config/index.js';
import { enabledStages } from '../../../src/core/stages.js';
import type { createKafka } from '../../../src/kafka/client.js';
import { groupLag } from '../../../src/kafka/lag.js';

/** Records not yet processed by every group of the pipeline `config` describes, from Kafka's own offsets. */
export async function totalLag(kafka: ReturnType<typeof createKafka>, config: Config): Promise<number> {
  const prefix = config.runner.groupPrefix ?? config.topics.prefix;
  let lag = 0;
  for (const stage of enabledStages(config.tenants)) {
    const result = await groupLag(kafka, `${prefix}${stage.group}`, stage.inputs.map((input) => `${config.topics.prefix}${input}`));
    lag += result.lag;
  }
  return lag;
}

/** Each group's lag, by group name, from Kafka's own offsets. */
export async function lagPerGroup(kafka: ReturnType<typeof createKafka>, config: Config): Promise<Record<string, number>> {
  const prefix = config.runner.groupPrefix ?? config.topics.prefix;
  const lags: Record<string, number> = {};
  for (const stage of enabledStages(config.tenants)) {
    lags[stage.group] = (await groupLag(kafka, `${prefix}${stage.group}`, stage.inputs.map((input) => `${config.topics.prefix}${input}`))).lag;
  }
  return lags;
}

export interface DrainOptions {
  /**
   * Fails before `timeoutMs` once the lag has not fallen below its lowest value for this long: a
   * pipeline that stopped, told apart from one that is slow on a loaded machine (which gets the
   * whole `timeoutMs`).
   */
  stallMs?: number;
}

/**
 * Waits until every group has no lag twice in a row; returns the seconds it took. On a timeout the
 * error gives each group's lag and the total lag every 30 s of the wait, which tells a pipeline
 * that was slow (the lag falling) from one that stopped (the lag flat).
 */
export async function drain(kafka: ReturnType<typeof createKafka>, config: Config, timeoutMs: number, describe: () => string, options: DrainOptions = {}): Promise<number> {
  const started = Date.now();
  const history: string[] = [];
  let quiet = 0;
  let last = -1;
  let lowest = Infinity;
  let lowestAt = started;
  let sampled = -Infinity;
  let stalled = false;
  while (Date.now() - started < timeoutMs) {
    last = await totalLag(kafka, config);
    const now = Date.now();
    if (now - sampled >= 30_000) {
      sampled = now;
      history.push(`${Math.round((now - started) / 1000)} s: ${last}`);
    }
    quiet = last === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return (now - started) / 1000;
    if (last < lowest) {
      lowest = last;
      lowestAt = now;
    } else if (options.stallMs !== undefined && now - lowestAt >= options.stallMs) {
      stalled = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const perGroup = await lagPerGroup(kafka, config).catch((error: unknown) => `unknown (${String(error)})`);
  const waited = Math.round((Date.now() - started) / 1000);
  throw new Error(
    `${stalled ? `the pipeline stopped draining: its lag did not fall below ${lowest} for ${options.stallMs! / 1000} s` : `the pipeline was still draining`}; ${last} records of lag after ${waited} s ` +
      `(per group: ${JSON.stringify(perGroup)}; total lag over the wait: ${history.join(', ')}); ${describe()}`,
  );
}
