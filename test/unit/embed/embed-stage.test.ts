import { describe, expect, it } from 'vitest';
import { cachedChunkEmbedder } from '../../../src/consumers/embed/cached-chunk-embedder.js';
import { createEmbedStage } from '../../../src/consumers/embed/embed-stage.js';
import type { ChunkSetRecord, VectorSetRecord } from '../../../src/core/records.js';
import type { InputRecord, StageContext } from '../../../src/core/stage.js';
import { MemoryEmbeddingCache } from '../../../src/embedders/memory-cache.js';
import { document, DOC_KEY } from '../chunk/samples.js';
import { RecordingEmbedder } from '../embedders/recording-embedder.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };

function chunkSet(texts: string[], version: bigint): InputRecord<ChunkSetRecord> {
  const { text: _text, ...header } = document('unused');
  const chunks = texts.map((text, index) => ({ id: `${DOC_KEY}#${index}`, index, text, hash: `hash-of-${text}`, token_count: 4 }));
  const value: ChunkSetRecord = { ...header, source_version: version, chunks, total_chunks: chunks.length, truncated: false };
  return { topic: 'chunks', partition: 0, offset: String(version), key: DOC_KEY, value, headers: {}, sourceVersion: version, occurredAt: 1 };
}

async function embedOne(stage: ReturnType<typeof createEmbedStage>, record: InputRecord<ChunkSetRecord>): Promise<VectorSetRecord> {
  const [result] = await stage.process([record], context);
  if (!result?.ok) throw new Error('expected success');
  return result.outputs[0]!.value as VectorSetRecord;
}

describe('the embed stage', () => {
  it('marks a set whose every chunk came from the cache as a touch, and makes no model call for it', async () => {
    const model = new RecordingEmbedder({ dimension: 16 });
    const stage = createEmbedStage(cachedChunkEmbedder(model, new MemoryEmbeddingCache()));
    expect((await embedOne(stage, chunkSet(['first part', 'second part'], 1n))).touch).toBe(false);
    expect((await embedOne(stage, chunkSet(['first part', 'second part'], 2n))).touch).toBe(true);
    expect(model.calls).toHaveLength(1);
  });

  it('never marks a set without chunks as a touch: the text became empty and its old points must go', async () => {
    const model = new RecordingEmbedder({ dimension: 16 });
    const stage = createEmbedStage(cachedChunkEmbedder(model, new MemoryEmbeddingCache()));
    const set = await embedOne(stage, chunkSet([], 3n));
    expect(set.chunks).toEqual([]);
    expect(set.touch).toBe(false);
    expect(model.calls).toEqual([]);
  });
});
