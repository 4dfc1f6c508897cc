/**
 * Counts the tokens a text costs the embedding model. The chunker sizes chunks with it, so a chunk
 * stays within the model's input limit (a longer input is silently truncated by the model, and its
 * tail never reaches the index).
 *
 * `count` must be pure and deterministic: chunk boundaries, and so chunk hashes, depend on it.
 * The chunker assumes counts are (close to) additive over whitespace-separated pieces, which holds
 * for WordPiece and BPE tokenizers that pre-split on whitespace; the special tokens a model adds
 * (`[CLS]`, `[SEP]`) are not counted: keep `maxTokens` a little below the model's limit.
 */
export interface Tokenizer {
  /** Identifies the tokenizer (and its version): chunk boundaries change when it changes. */
  readonly id: string;
  count(text: string): number;
}
