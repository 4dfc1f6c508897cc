import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header the Magento RagSync module sends; the plan's `X-Rag-Signature` is an alias. */
export const SIGNATURE_HEADERS = ['x-magento-webhook-signature', 'x-rag-signature'] as const;

/** `sha256=<hex>` of HMAC-SHA256 over the raw body bytes. */
export function signBody(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The signature header of a request, or undefined when it has none. */
export function signatureHeader(headers: Record<string, string | string[] | undefined>): string | undefined {
  for (const name of SIGNATURE_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/**
 * True when `header` is a valid signature of `body` with any of the tenant's active secrets (more
 * than one during a rotation). The comparison is constant-time: both sides are SHA-256 digests of
 * equal length, so timingSafeEqual never sees buffers of different sizes, and every secret is
 * tried even after a match.
 */
export function verifySignature(body: Buffer, header: string | undefined, secrets: readonly string[]): boolean {
  if (header === undefined) return false;
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1]!.toLowerCase(), 'hex');
  let valid = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(body).digest();
    if (timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}
