import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/text/sha256.js';

describe('sha256Hex', () => {
  it('is the lowercase hex sha256 of the UTF-8 bytes', () => {
    // FIPS 180-2's example "abc".
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (const text of ['Regenjacke „Föhn“ — 79,90 €', '防水ジャケット', 'emoji 🧥 and a lone surrogate \ud800 end']) {
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    }
  });
});
