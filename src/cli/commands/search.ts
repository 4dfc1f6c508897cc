import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { createEmbedder } from '../../embedders/index.js';
import { createVectorStore } from '../../stores/index.js';
import { formatHits, searchIndex, storeDescription } from '../search.js';

const integer = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return Number(value);
};

export function registerSearchCommand(program: Command): void {
  program
    .command('search')
    .description('search the index the way an assistant would: embed the query, print the nearest chunks')
    .summary('search the index the way an assistant would')
    .argument('<query>', 'what to look for, in plain words')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--type <docType>', 'only this doc type (product, category, policy, faq, shipping, support, guide, general, promotion)')
    .option('--store <storeId>', 'only this store id', integer('--store'))
    .option('--limit <n>', 'number of hits', integer('--limit'), 5)
    .option('--json', 'print the hits as JSON')
    .action(async (query: string, options: { tenant?: string; type?: string; store?: number; limit: number; json?: boolean }) => {
      const config = loadConfig();
      const { embedder } = await createEmbedder(config.embedder);
      const store = createVectorStore(config.store);
      try {
        await store.connect();
        const hits = await searchIndex(embedder, store, query, options);
        if (options.json) {
          console.log(JSON.stringify(hits.map((h) => ({ id: h.id, score: h.score, ...h.payload })), null, 2));
        } else {
          console.log(`${hits.length} hit(s) for "${query}" in ${storeDescription(config)} (embedder ${embedder.id})`);
          console.log(formatHits(hits));
        }
      } finally {
        await store.close();
        await embedder.close();
      }
    });
}
