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

/** Waits until every group has no lag twice in a row; returns the seconds it took. */
export async function drain(kafka: ReturnType<typeof createKafka>, config: Config, timeoutMs: number, describe: () => string): Promise<number> {
  const started = Date.now();
  let quiet = 0;
  let last = -1;
  while (Date.now() - started < timeoutMs) {
    last = await totalLag(kafka, config);
    quiet = last === 0 ? quiet + 1 : 0;
    if (quiet >= 2) return (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the pipeline still had ${last} records of lag after ${timeoutMs / 1000} s; ${describe()}`);
}
