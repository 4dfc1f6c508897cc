/**
 * The embedding provider contract. The embed stage, the search command and the demo talk to every
 * model through it; `index.ts` picks the implementation from `config.embedder`.
 *
 * `embed(texts)` returns one vector per text, in order, each of `dimension` values. It throws only
 * classified errors (src/core/errors.ts):
 * - `RetryableError`: the endpoint is out for now (network, timeout, 5xx, 429 with its Retry-After
 *   in `retryAfterMs`). The embed stage pauses and retries in place (docs/design.md §4).
 * - `SystemError`: wrong for every text (401/403, unknown model, missing model files, a response
 *   that breaks the contract). The stage pauses and alerts.
 * - `PermanentError`: the endpoint refused these texts (e.g. an input too long). The record goes
 *   to the DLQ.
 */
export interface Embedder {
  /**
   * The model's stable id, e.g. `hashing-v1-384`, `onnx:all-minilm-l6-v2-q`,
   * `openai:text-embedding-3-small`. It travels with every vector and keys the embedding cache:
   * two embedders with the same id must produce interchangeable vectors.
   */
  readonly id: string;
  /** Values per vector. */
  readonly dimension: number;
  /** The distance the vectors are meant for; the store creates its collection with it. */
  readonly distance: EmbedderDistance;
  /** `lexical`: similarity reflects shared words only; `semantic`: a trained model. */
  readonly kind: 'lexical' | 'semantic';
  embed(texts: string[]): Promise<Float32Array[]>;
  /**
   * Put before a search query, never before a document: models trained for asymmetric retrieval
   * (BGE) expect their query instruction. Undefined for the others.
   */
  readonly queryPrefix?: string;
  /** The model's own tokenizer, when it has one, so chunk sizes match what the model sees. */
  readonly tokenizer?: EmbedderTokenizer;
  /** Releases sessions, sockets and native memory. Idempotent. */
  close(): Promise<void>;
}

export type EmbedderDistance = 'Cosine' | 'Dot' | 'Euclid';

export interface EmbedderTokenizer {
  /** Stable id of the tokenizer; chunk token counts are only comparable under the same id. */
  readonly id: string;
  /** Tokens of `text` as the model sees them, special tokens ([CLS], [SEP]) not counted. */
  count(text: string): number;
}
