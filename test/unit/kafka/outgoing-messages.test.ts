import { describe, expect, it } from 'vitest';
import { outgoingToMessages } from '../../../src/kafka/platformatic-producer.js';

const text = (b: Buffer | undefined | null) => (b === undefined || b === null ? b : b.toString('utf8'));

describe('a stage\'s outputs as @platformatic/kafka takes them', () => {
  it('turns text keys and header values into bytes, keeps bytes as they are, and every value of a repeated header', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x41]);
    const [message] = outgoingToMessages([
      { topic: 't', key: 'acme/product/Ünï/1', value: bytes, headers: { 'ragsync-source-version': '7', raw: bytes, many: ['a', Buffer.from('b')], skipped: undefined } },
    ]);
    expect(message!.topic).toBe('t');
    expect(text(message!.key)).toBe('acme/product/Ünï/1');
    expect(message!.value).toBe(bytes);
    const headers = [...(message!.headers as Map<Buffer, Buffer>).entries()].map(([name, value]) => [name.toString('utf8'), value]);
    expect(headers.map(([name, value]) => [name, (value as Buffer).toString('latin1')])).toEqual([
      ['ragsync-source-version', '7'],
      ['raw', bytes.toString('latin1')],
      ['many', 'a'],
      ['many', 'b'],
    ]);
  });

  it('sends a missing key as none and a null value as Kafka\'s null (a tombstone)', () => {
    const [noKey, tombstone] = outgoingToMessages([
      { topic: 't', key: null, value: Buffer.from('x') },
      { topic: 't', key: 'k', value: null },
    ]);
    expect('key' in noKey!).toBe(false);
    expect(tombstone!.value).toBeNull();
    expect(text(tombstone!.key)).toBe('k');
  });
});
