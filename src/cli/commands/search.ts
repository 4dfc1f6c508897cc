import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { createEmbedder } from '../../embedders/index.js';
import { createVectorStore, SEARCH_MODES } from '../../stores/index.js';
import { formatHits, hitJson, searchIndex, storeDescription, type SearchOptions } from '../search.js';

const integer = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return Number(value);
};

const amount = (name: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number`);
  return n;
};

/** `--mode`, shared with `eval`: overrides config `search.mode` (RAGSYNC_SEARCH_MODE). */
export const modeOption = () =>
  new Option('--mode <mode>', 'hybrid (BM25 and dense vectors fused), dense or lexical; default: search.mode of the configuration (RAGSYNC_SEARCH_MODE, hybrid)').choices(SEARCH_MODES);

/** What the command's options parse into: the search's own, and how to print. */
interface SearchCommandOptions extends Omit<SearchOptions, 'chunks'> {
  json?: boolean;
}

export function registerSearchCommand(program: Command): void {
  program
    .command('search')
    .description('search the index the way an assistant would: one hit per document, its best chunk shown and its other matching chunks named')
    .summary('search the index the way an assistant would')
    .argument('<query>', 'what to look for, in plain words')
    .addOption(modeOption())
    .option('--tenant <tenant>', 'only this tenant')
    .option('--type <docType>', 'only this doc type (product, category, policy, faq, shipping, support, guide, general, promotion)')
    .option('--store <storeId>', 'only this store id', integer('--store'))
    .option('--category <name>', 'only products in this category (its name, e.g. "Jackets & rainwear")')
    .option('--min-price <amount>', 'only products priced at least this', amount('--min-price'))
    .option('--max-price <amount>', 'only products priced at most this', amount('--max-price'))
    .addOption(new Option('--stock <status>', 'only products with this stock status').choices(['in_stock', 'out_of_stock']))
    .option('--limit <n>', 'number of documents', integer('--limit'), 5)
    .option('--json', 'print the hits as JSON')
    .action(async (query: string, options: SearchCommandOptions) => {
      const config = loadConfig();
      const mode = options.mode ?? config.search.mode;
      const { embedder } = await createEmbedder(config.embedder);
      const store = createVectorStore(config.store);
      try {
        await store.connect();
        const hits = await searchIndex(embedder, store, query, { ...options, mode });
        if (options.json) {
          console.log(JSON.stringify(hits.map(hitJson), null, 2));
        } else {
          console.log(`${hits.length} document(s) for "${query}" in ${storeDescription(config)} (${mode} search, embedder ${embedder.id})`);
          console.log(formatHits(hits));
        }
      } finally {
        await store.close();
        await embedder.close();
      }
    });
}
