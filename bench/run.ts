/**
 * `npm run bench -- --scenario <name> [options of that scenario]`
 *
 * - `catalog-diff` (the default): `catalog diff` over 10,000 products, in memory, about a second;
 * - `pipeline`: the pipeline end to end on the local stack (bench/pipeline.bench.ts has its options);
 * - `commerce`: a price change pushed to a shop during a 50,000-product backfill (bench/commerce.bench.ts);
 * - `all`: every one.
 */
import { main as catalogDiff } from './catalog-diff.bench.js';
import { main as commerce } from './commerce.bench.js';
import { main as pipeline } from './pipeline.bench.js';

const SCENARIOS: Record<string, (args: string[]) => unknown> = {
  'catalog-diff': () => catalogDiff(),
  pipeline: (args) => pipeline(args),
  commerce: (args) => commerce(args),
};

/** `--scenario <name>` or `--scenario=<name>`, taken out of the arguments; the rest go to the scenario. */
function takeScenario(argv: string[]): string {
  const at = argv.findIndex((a) => a === '--scenario' || a.startsWith('--scenario='));
  if (at < 0) return 'catalog-diff';
  const flag = argv[at]!;
  if (flag.includes('=')) {
    argv.splice(at, 1);
    return flag.slice(flag.indexOf('=') + 1);
  }
  const [, value] = argv.splice(at, 2);
  return value ?? '';
}

const argv = process.argv.slice(2);
const scenario = takeScenario(argv);
const names = scenario === 'all' ? Object.keys(SCENARIOS) : [scenario];
for (const name of names) {
  const run = SCENARIOS[name];
  if (!run) {
    console.error(`unknown scenario "${name}": expected ${[...Object.keys(SCENARIOS), 'all'].join(', ')}`);
    process.exit(2);
  }
  console.log(`# ${name}`);
  await run(argv);
}
