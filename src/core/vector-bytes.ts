import { endianness } from 'node:os';

/**
 * Vectors travel (in the `vectors` topic) and rest (in the embedding cache) as float32
 * little-endian bytes, whatever the machine's byte order.
 */

/** A float32 array's own bytes are the wire bytes: used as they are, not written value by value. */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * The vector's bytes. On a little-endian machine they are the vector's own memory, not a copy:
 * the vector must not be changed afterwards (an embedder's vectors never are).
 */
export function vectorToBytes(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes;
}

/** The inverse of {@link vectorToBytes}; throws a RangeError when the length is not a multiple of 4. */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`vector bytes: length ${bytes.byteLength} is not a multiple of 4`);
  const out = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN) {
    // A copy: `bytes` may start at an offset that is not a multiple of 4.
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.readFloatLE(i * 4);
  return out;
}
