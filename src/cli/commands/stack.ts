import type { Command } from 'commander';
import { stackDown, stackEnvLines, stackStatus, stackUp } from '../../stack/stack.js';

export function registerStackCommand(program: Command): void {
  const stack = program
    .command('stack')
    .description('start, stop and inspect the local Kafka, Schema Registry and Redis')
    .summary('run the local Kafka, Schema Registry and Redis')
    .addHelpText(
      'after',
      `
The services run from .stack/ (git-ignored), bound to 127.0.0.1 on non-default ports:
Kafka 19092 (KRaft controller 19093), Apicurio Registry 18081 (/apis/ccompat/v7), Redis 16379.
The first \`up\` downloads Kafka and the registry from Maven Central (needs java 17+ and mvn);
later ones reuse Maven's cache. Set KAFKA_BROKERS, SCHEMA_REGISTRY_URL and REDIS_URL to use
services of your own instead: then nothing needs to be started.`,
    );

  stack
    .command('up')
    .description('start every service that is not running and wait until all are healthy')
    .action(async () => {
      const statuses = await stackUp((line) => console.log(line));
      console.log('');
      for (const s of statuses) console.log(`${s.name.padEnd(9)} healthy  127.0.0.1:${s.port}  log ${s.logFile}`);
      console.log('\nexport $(npx ragsync stack env)   # to point other shells at it');
    });

  stack
    .command('down')
    .description('stop the services and free their ports (data stays in .stack/data)')
    .action(async () => {
      await stackDown((line) => console.log(line));
    });

  stack
    .command('status')
    .description('show whether each service runs and answers; exit 1 when one does not')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const statuses = await stackStatus();
      if (options.json) console.log(JSON.stringify(statuses, null, 2));
      else {
        for (const s of statuses) {
          const state = s.healthy ? 'healthy' : s.pid ? 'unhealthy' : 'stopped';
          console.log(`${s.name.padEnd(9)} ${state.padEnd(9)} 127.0.0.1:${s.port}  ${s.pid ? `pid ${s.pid}` : ''}  log ${s.logFile}`);
        }
      }
      if (!statuses.every((s) => s.healthy)) process.exitCode = 1;
    });

  stack
    .command('env')
    .description('print KAFKA_BROKERS, SCHEMA_REGISTRY_URL and REDIS_URL for `export $(…)` or `eval`')
    .action(() => {
      for (const line of stackEnvLines()) console.log(line);
    });
}
