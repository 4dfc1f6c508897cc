import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLines } from '../../../../src/cli/commands/publish.js';

/** `ragsync publish` reads its input with readLines: the same lines, and line numbers, as node:readline. */
async function viaReadline(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: Readable.from(chunks), crlfDelay: Infinity })) lines.push(line);
  return lines;
}

async function viaReadLines(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(Readable.from(chunks))) lines.push(line);
  return lines;
}

/** Deterministic pseudo-random numbers, so a failure repeats. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('readLines', () => {
  it('splits on \\n, \\r\\n and a lone \\r as readline does, wherever the chunks break (also inside a character)', async () => {
    const next = random(7);
    const alphabet = ['a', '{', ' ', '\n', '\r', 'é', '😀'];
    for (let round = 0; round < 2000; round++) {
      let text = '';
      for (let i = Math.floor(next() * 16); i > 0; i--) text += alphabet[Math.floor(next() * alphabet.length)];
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(next() * 4);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      expect(await viaReadLines(chunks), JSON.stringify(text)).toEqual(await viaReadline(chunks));
    }
  });

  it('joins a line longer than many chunks, and tells the bytes read', async () => {
    const long = 'x'.repeat(300_000);
    const bytes = Buffer.from(`first\n${long}\r\nlast`);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, i) => bytes.subarray(i * 1000, (i + 1) * 1000));
    let read = 0;
    const lines: string[] = [];
    for await (const line of readLines(Readable.from(chunks), (n) => (read += n))) lines.push(line);
    expect(lines).toEqual(['first', long, 'last']);
    expect(read).toBe(bytes.length);
  });

  it('loses nothing the stream read before the lines were iterated', async () => {
    const input = Readable.from([Buffer.from('a\nb\n'), Buffer.from('c\n')]);
    const lines = readLines(input);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const read: string[] = [];
    for await (const line of lines) read.push(line);
    expect(read).toEqual(['a', 'b', 'c']);
  });
});
