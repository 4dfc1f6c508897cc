import { describe, expect, it } from 'vitest';
import { createChunkStage } from '../../../src/consumers/chunk/chunk-stage.js';
import { contextHeader, embeddingText } from '../../../src/consumers/chunk/context-header.js';
import { cachedChunkEmbedder } from '../../../src/consumers/embed/cached-chunk-embedder.js';
import { createEmbedStage } from '../../../src/consumers/embed/embed-stage.js';
import { createMapStage } from '../../../src/consumers/map/map-stage.js';
import type { ChunkSetRecord, DocumentRecord, VectorSetRecord } from '../../../src/core/records.js';
import type { InputRecord, RecordResult, StageContext } from '../../../src/core/stage.js';
import { MemoryEmbeddingCache } from '../../../src/embedders/memory-cache.js';
import { sha256Hex } from '../../../src/text/sha256.js';
import { RecordingEmbedder } from '../embedders/recording-embedder.js';
import { changeRecord, defaultFilters, product } from '../map/samples.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };

function output<T>(results: RecordResult<T>[]): T {
  const [result] = results;
  if (!result?.ok) throw new Error(`expected success, got ${String(result?.error)}`);
  return result.outputs[0]!.value as T;
}

const as = <T>(record: InputRecord, topic: string, value: T): InputRecord<T> => ({ ...record, topic, value });

/** A product with a longer description: five sections, each its own chunk. */
const SECTIONS = [
  ['Upper', 'A breathable mesh upper with a waterproof membrane keeps feet dry in wet grass. The toe cap is rubber, so stones do not bruise your toes.'],
  ['Sole', 'Sticky rubber grips wet rock, and lugs of five millimetres bite into mud. A rock plate under the forefoot protects against sharp stones.'],
  ['Fit', 'The shoe runs true to size with room for a thick sock. Choose half a size up if your feet swell on long days.'],
  ['Care', 'Rinse off mud with cold water and let the shoe dry away from a heater. Take out the insole so it dries as well.'],
  ['Repairs', 'Our workshop replaces worn laces and insoles for free within the first year. A worn sole can be replaced once.'],
].map(([heading, text]) => `<h2>${heading}</h2><p>${text}</p>`);

/** The map, chunk and embed stages in a row, with one embedder and cache across calls. */
function pipeline() {
  const model = new RecordingEmbedder({ dimension: 16 });
  const map = createMapStage(defaultFilters(), { now: () => Date.UTC(2026, 10, 22) });
  const chunk = createChunkStage({ chunking: { maxTokens: 128, overlapTokens: 16, maxChunksPerDocument: 200 } });
  const embed = createEmbedStage(cachedChunkEmbedder(model, new MemoryEmbeddingCache()));
  return {
    model,
    /** Texts the model was asked to embed for this change. */
    async index(value: Record<string, unknown>): Promise<{ chunks: ChunkSetRecord; vectors: VectorSetRecord; embedded: string[] }> {
      const change = changeRecord('product', value);
      const document = output(await map.process([change], context)) as DocumentRecord;
      const chunks = output(await chunk.process([as(change, 'documents', document)], context));
      const before = model.calls.length;
      const vectors = output(await embed.process([as(change, 'chunks', chunks)], context));
      return { chunks, vectors, embedded: model.calls.slice(before).flat() };
    },
  };
}

describe('contextual chunks through map, chunk and embed', () => {
  const shoe = (overrides: Record<string, unknown> = {}) => product({ description: SECTIONS.join(''), ...overrides });

  it('embeds every chunk with its document header, and stores the chunk text without it', async () => {
    const { chunks, embedded, vectors } = await pipeline().index(shoe());
    expect(chunks.chunks.length).toBeGreaterThan(3);
    const header = contextHeader(chunks);
    expect(header).toBe('Ridgeline Trail Shoe (product; Footwear > Trail Running, Sale; brand: Kestrel; color: Slate blue; material: Recycled mesh)');
    expect(embedded).toEqual(chunks.chunks.map((c) => embeddingText(header, c.text)));
    for (const c of [...chunks.chunks, ...vectors.chunks]) expect(c.text.startsWith(header)).toBe(false);
    // The hash the cache is keyed by covers exactly what the model read.
    expect(chunks.chunks.map((c) => c.hash)).toEqual(embedded.map(sha256Hex));
  });

  it('makes no embedding call for a price and stock change, and keeps every chunk hash', async () => {
    const run = pipeline();
    const first = await run.index(shoe());
    const second = await run.index(shoe({ price: 99.5, special_price: null, qty: 0, stock_status: 'out_of_stock' }));
    expect(second.embedded).toEqual([]);
    expect(second.vectors.touch).toBe(true);
    expect(second.chunks.chunks.map((c) => c.hash)).toEqual(first.chunks.chunks.map((c) => c.hash));
    expect(second.embedded.concat(first.embedded).some((t) => /99\.5|139\.95|out_of_stock|in_stock/.test(t))).toBe(false);
  });

  it('re-embeds exactly the chunk of an edited paragraph', async () => {
    const run = pipeline();
    const first = await run.index(shoe());
    const edited = [...SECTIONS];
    edited[2] = edited[2]!.replace('true to size', 'true to size, also in a wide version,');
    const second = await run.index(shoe({ description: edited.join('') }));
    const changed = second.chunks.chunks.filter((c, i) => c.hash !== first.chunks.chunks[i]?.hash);
    expect(second.chunks.chunks).toHaveLength(first.chunks.chunks.length);
    expect(changed).toHaveLength(1);
    expect(changed[0]!.text).toContain('## Fit');
    expect(second.embedded).toEqual([embeddingText(contextHeader(second.chunks), changed[0]!.text)]);
  });

  it('re-embeds every chunk when the title changes, since every chunk carries it', async () => {
    const run = pipeline();
    const first = await run.index(shoe());
    const second = await run.index(shoe({ name: 'Ridgeline Trail Shoe II' }));
    expect(second.embedded).toHaveLength(second.chunks.chunks.length);
    expect(second.embedded.every((t) => t.startsWith('Ridgeline Trail Shoe II (product;'))).toBe(true);
    expect(second.chunks.chunks.some((c, i) => c.hash === first.chunks.chunks[i]?.hash)).toBe(false);
  });

  it('embeds a chunk set written before its header changed form under the hash of what it embeds', async () => {
    const run = pipeline();
    const { chunks } = await run.index(shoe());
    const embed = createEmbedStage(cachedChunkEmbedder(run.model, new MemoryEmbeddingCache()));
    // Hashes of the bare chunk texts, as a chunk stage without headers wrote them.
    const old: ChunkSetRecord = { ...chunks, chunks: chunks.chunks.map((c) => ({ ...c, hash: sha256Hex(c.text) })) };
    const record = as(changeRecord('product', shoe()), 'chunks', old);
    const before = run.model.calls.length;
    output(await embed.process([record], context));
    expect(run.model.calls.slice(before).flat()).toEqual(chunks.chunks.map((c) => embeddingText(contextHeader(chunks), c.text)));
  });
});
