import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { signatureHeader, signBody, verifySignature } from '../../../../src/producers/magento/signature.js';

const body = Buffer.from('{"items":[]}');

describe('verifySignature', () => {
  it('accepts the HMAC-SHA256 of the raw bytes in either hex case', () => {
    const hex = createHmac('sha256', 's3cret').update(body).digest('hex');
    expect(verifySignature(body, `sha256=${hex}`, ['s3cret'])).toBe(true);
    expect(verifySignature(body, `sha256=${hex.toUpperCase()}`, ['s3cret'])).toBe(true);
  });

  it('accepts any of several active secrets', () => {
    expect(verifySignature(body, signBody(body, 'old'), ['new', 'old'])).toBe(true);
  });

  it('refuses a wrong secret, a missing prefix, a short digest and no secrets at all', () => {
    const good = signBody(body, 's3cret');
    expect(verifySignature(body, signBody(body, 'other'), ['s3cret'])).toBe(false);
    expect(verifySignature(body, good.slice('sha256='.length), ['s3cret'])).toBe(false);
    expect(verifySignature(body, good.slice(0, -2), ['s3cret'])).toBe(false);
    expect(verifySignature(body, good, [])).toBe(false);
    expect(verifySignature(body, undefined, ['s3cret'])).toBe(false);
  });
});

describe('signatureHeader', () => {
  it('prefers the Magento header and falls back to X-Rag-Signature', () => {
    expect(signatureHeader({ 'x-magento-webhook-signature': 'a', 'x-rag-signature': 'b' })).toBe('a');
    expect(signatureHeader({ 'x-rag-signature': 'b' })).toBe('b');
    expect(signatureHeader({})).toBeUndefined();
  });
});
