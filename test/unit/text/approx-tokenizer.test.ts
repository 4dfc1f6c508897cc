import { describe, expect, it } from 'vitest';
import { approxTokenizer, countApproxTokens } from '../../../src/text/approx-tokenizer.js';

describe('the approximate tokenizer', () => {
  it('counts short words as one token and punctuation characters as one each', () => {
    expect(countApproxTokens('We ship fast.')).toBe(4);
    expect(countApproxTokens('Hi, you!')).toBe(4);
  });

  it('splits ASCII words at about four characters per token, with one more for words over six letters', () => {
    expect(countApproxTokens('ship')).toBe(1);
    expect(countApproxTokens('parcel')).toBe(2);
    expect(countApproxTokens('waterproof')).toBe(4);
  });

  it('counts words with non-ASCII letters at about two and a half characters per token', () => {
    expect(countApproxTokens('Rücksendung')).toBe(5);
  });

  it('counts digits at about two per token and separators apart', () => {
    expect(countApproxTokens('19.99')).toBe(3);
    expect(countApproxTokens('4006381333931')).toBe(7);
  });

  it('counts each CJK character as one token, also next to Latin letters', () => {
    expect(countApproxTokens('返品について')).toBe(6);
    expect(countApproxTokens('abc漢字')).toBe(3);
  });

  it('counts nothing for whitespace, so counts add up over whitespace-joined pieces', () => {
    expect(countApproxTokens(' \n\t ')).toBe(0);
    const a = 'Free returns within 30 days.';
    const b = 'Sale items: 14 days, store credit only.';
    expect(countApproxTokens(`${a}\n\n${b}`)).toBe(countApproxTokens(a) + countApproxTokens(b));
  });

  it('never counts fewer tokens than words on ordinary shop prose', () => {
    const prose = 'Our lightweight trail shoe keeps your feet dry on muddy paths and rocky climbs alike.';
    expect(countApproxTokens(prose)).toBeGreaterThanOrEqual(prose.split(/\s+/).length + 1);
  });

  it('has a stable id', () => {
    expect(approxTokenizer.id).toBe('approx-wordpiece-v2');
  });
});
