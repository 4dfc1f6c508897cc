import { describe, expect, it } from 'vitest';
import { normalizeWhitespace } from '../../../src/text/normalize-whitespace.js';

describe('normalizeWhitespace', () => {
  it('turns no-break and exotic spaces into plain spaces and collapses runs', () => {
    expect(normalizeWhitespace('30\u00a0days\u2009return   window\tonly')).toBe('30 days return window only');
  });

  it('trims lines and keeps at most one empty line between blocks', () => {
    expect(normalizeWhitespace('  First line  \r\n\r\n\r\n\n  Second line \n- item ')).toBe('First line\n\nSecond line\n- item');
  });

  it('normalises to NFC so equal text gives equal hashes', () => {
    expect(normalizeWhitespace('Cafe\u0301')).toBe('Caf\u00e9');
  });

  it('drops zero-width spaces and byte order marks', () => {
    expect(normalizeWhitespace('\ufeffsize\u200bguide')).toBe('sizeguide');
  });
});
