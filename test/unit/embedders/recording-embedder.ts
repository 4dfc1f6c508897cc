import { HashingEmbedder } from '../../../src/embedders/hashing.js';

/** The hashing embedder, recording the texts of each call it gets and whether it was closed. */
export class RecordingEmbedder extends HashingEmbedder {
  readonly calls: string[][] = [];
  closed = false;

  override async embed(texts: string[]): Promise<Float32Array[]> {
    this.calls.push(texts);
    return super.embed(texts);
  }

  override async close(): Promise<void> {
    this.closed = true;
  }
}
