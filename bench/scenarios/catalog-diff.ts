import { measureCatalogDiff } from '../catalog-diff.bench.js';
import type { Scenario } from './context.js';

export const catalogDiffScenario: Scenario = {
  name: 'catalog-diff',
  about: '`catalog diff` over 10,000 products in memory',
  async run(context) {
    const f = measureCatalogDiff();
    context.raw['catalog-diff'] = f;
    context.say(`  catalog diff: ${f.count} products in ${f.ms.toFixed(0)} ms`);
    return [{ scenario: 'catalog-diff', name: `${f.count.toLocaleString('en-US')} products diffed`, value: f.ms, unit: 'ms', target: { op: '<=', value: 1000 }, status: 'ok' }];
  },
};
