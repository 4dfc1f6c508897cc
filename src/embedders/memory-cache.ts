import type { EmbeddingCache } from './cache.js';

/**
 * An embedding cache in this process's memory, bounded by entry count (oldest written first
 * out). For single-process runs without Redis, such as the demo, and for tests.
 */
export class MemoryEmbeddingCache implements EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();

  constructor(private readonly maxEntries = 100_000) {}

  get size(): number {
    return this.entries.size;
  }

  async getMany(modelId: string, hashes: string[]): Promise<Array<Float32Array | undefined>> {
    return hashes.map((hash) => this.entries.get(`${modelId}\u0000${hash}`));
  }

  async setMany(modelId: string, entries: Array<{ hash: string; vector: Float32Array }>): Promise<void> {
    for (const { hash, vector } of entries) {
      const key = `${modelId}\u0000${hash}`;
      this.entries.delete(key);
      this.entries.set(key, vector);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
