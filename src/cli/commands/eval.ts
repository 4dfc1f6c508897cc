import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { createEmbedder } from '../../embedders/index.js';
import { parseEvalSet } from '../../retrieval/eval-set.js';
import { evaluate, scoreQuery, type QueryResult } from '../../retrieval/metrics.js';
import { formatReport, reportJson } from '../../retrieval/report.js';
import { createVectorStore, type SearchMode } from '../../stores/index.js';
import { searchIndex, storeDescription } from '../search.js';
import { modeOption } from './search.js';

const positiveInteger = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) === 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return Number(value);
};

const share = (name: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number from 0 to 1`);
  return n;
};

interface EvalOptions {
  json?: boolean;
  limit: number;
  tenant?: string;
  store?: number;
  minRecall5?: number;
  mode?: SearchMode;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('measure retrieval: run the queries of an evaluation set through search and print recall@1, recall@5, MRR and the misses')
    .summary('measure retrieval with an evaluation set')
    .argument('<file>', 'evaluation set, one JSON object per line (see below)')
    .addOption(modeOption())
    .option('--limit <n>', 'chunks retrieved per query; documents are ranked from them', positiveInteger('--limit'), 50)
    .option('--tenant <tenant>', 'only this tenant')
    .option('--store <storeId>', 'only this store id', positiveInteger('--store'))
    .option('--min-recall5 <x>', 'exit 1 when recall@5 is below x (0 to 1)', share('--min-recall5'))
    .option('--json', 'print the figures and every query\'s rank as JSON')
    .addHelpText(
      'after',
      `
The file has one query per line:
  {"query": "which jacket has taped seams", "expect": ["demo/product/FH-1001/1"],
   "tags": ["attribute"]}
"expect" lists the keys of the documents that answer the query (tenant/entity_type/entity_id/
store_id, as search --json prints them in doc_key); finding any of them counts. "tags" is
optional and adds a row per tag. The queries go through the same search as \`ragsync search\`
(same store, collection, embedder and search mode from the configuration, --mode overrides the
mode); the chunks of one document count once, at the rank of the best of them.

recall@1: share of queries whose first document is an expected one. recall@5: share with an
expected document among the first five. MRR: mean of 1/rank of the first expected document (0
when none is among the documents of the --limit chunks retrieved).
samples/eval.jsonl is the set for the sample catalog (\`ragsync demo\`).`,
    )
    .action(async (file: string, options: EvalOptions) => {
      const queries = parseEvalSet(readFileSync(file, 'utf8'), file);
      const config = loadConfig();
      const mode = options.mode ?? config.search.mode;
      const { embedder } = await createEmbedder(config.embedder);
      const store = createVectorStore(config.store);
      const titles = new Map<string, string>();
      const results: QueryResult[] = [];
      try {
        await store.connect();
        for (const query of queries) {
          // Every document of the --limit chunks, grouped by the search layer.
          const documents = await searchIndex(embedder, store, query.query, {
            mode,
            limit: options.limit,
            chunks: options.limit,
            ...(options.tenant ? { tenant: options.tenant } : {}),
            ...(options.store !== undefined ? { store: options.store } : {}),
          });
          for (const hit of documents) if (!titles.has(hit.payload.doc_key)) titles.set(hit.payload.doc_key, hit.payload.title);
          results.push(scoreQuery(query, documents.map((hit) => hit.payload.doc_key)));
        }
      } finally {
        await store.close();
        await embedder.close();
      }
      const report = evaluate(results);
      if (options.json) {
        console.log(JSON.stringify({ file, store: storeDescription(config), embedder: embedder.id, mode, ...reportJson(report) }, null, 2));
      } else {
        console.log(`${queries.length} queries from ${file} against ${storeDescription(config)} (${mode} search, embedder ${embedder.id})`);
        console.log(formatReport(report, titles));
      }
      if (options.minRecall5 !== undefined && report.recallAt5 < options.minRecall5) {
        if (!options.json) console.log(`\nrecall@5 ${report.recallAt5.toFixed(3)} is below --min-recall5 ${options.minRecall5}`);
        process.exitCode = 1;
      }
    });
}
