import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../../src/core/errors.js';
import { OrderedSender, type MessageProducer, type Outgoing } from '../../../src/kafka/ordered-sender.js';

/** A producer whose sends wait until the test settles them, one call per request. */
function fakeProducer() {
  const requests: Array<{ keys: string[]; settle: (error?: Error) => void }> = [];
  let replaced = 0;
  const producer: MessageProducer = {
    connect: async () => undefined,
    send: (messages) =>
      new Promise<void>((resolve, reject) => {
        const keys = messages.map((m) => `${m.topic}:${String(m.key)}`);
        requests.push({ keys, settle: (error) => (error ? reject(error) : resolve()) });
      }),
    disconnect: async () => undefined,
  };
  return {
    requests,
    get replaced() {
      return replaced;
    },
    options: { producer: async () => producer, onFailure: () => (replaced += 1), maxRequestBytes: 10_000 },
  };
}

const msg = (key: string, bytes = 10): Outgoing => ({ topic: 't', key, value: Buffer.alloc(bytes) });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the ordered sender', () => {
  it('sends one request at a time and puts what arrived meanwhile into the next one, in order', async () => {
    const fake = fakeProducer();
    const sender = new OrderedSender(fake.options);
    const first = sender.send([msg('a')], sender.generation);
    await tick();
    const second = sender.send([msg('b')], sender.generation);
    const third = sender.send([msg('c'), msg('d')], sender.generation);
    await tick();
    expect(fake.requests.map((r) => r.keys)).toEqual([['t:a']]);
    fake.requests[0]!.settle();
    await first;
    await tick();
    expect(fake.requests.map((r) => r.keys)).toEqual([['t:a'], ['t:b', 't:c', 't:d']]);
    fake.requests[1]!.settle();
    await expect(Promise.all([second, third])).resolves.toBeDefined();
  });

  it('splits large outputs over several requests and resolves a call once all of its messages are acknowledged', async () => {
    const fake = fakeProducer();
    const sender = new OrderedSender(fake.options);
    let done = false;
    const call = sender.send([msg('a', 6_000), msg('b', 6_000), msg('c', 6_000)], sender.generation).then(() => (done = true));
    await tick();
    expect(fake.requests.map((r) => r.keys)).toEqual([['t:a']]);
    fake.requests[0]!.settle();
    await tick();
    await tick();
    expect(done).toBe(false);
    expect(fake.requests[1]!.keys).toEqual(['t:b']);
    fake.requests[1]!.settle();
    await tick();
    await tick();
    fake.requests[2]!.settle();
    await call;
    expect(done).toBe(true);
  });

  it('fails everything queued behind a failed request and every later call of the old generation, and replaces the producer', async () => {
    const fake = fakeProducer();
    const sender = new OrderedSender(fake.options);
    const generation = sender.generation;
    const first = sender.send([msg('n')], generation);
    await tick();
    const queued = sender.send([msg('n+1')], generation);
    fake.requests[0]!.settle(new Error('broker went away'));
    await expect(first).rejects.toBeInstanceOf(RetryableError);
    await expect(queued).rejects.toBeInstanceOf(RetryableError);
    expect(fake.replaced).toBe(1);
    // Slice n+2 of the same partition, processed before its caller saw the failure: never sent.
    await expect(sender.send([msg('n+2')], generation)).rejects.toBeInstanceOf(RetryableError);
    expect(fake.requests.map((r) => r.keys)).toEqual([['t:n']]);
    // A partition that starts again reads the new generation and is sent.
    const again = sender.send([msg('n')], sender.generation);
    await tick();
    fake.requests[1]!.settle();
    await again;
    expect(fake.requests.map((r) => r.keys)).toEqual([['t:n'], ['t:n']]);
  });

  it('refuses an empty call of an old generation too, so a later slice cannot be resolved before a failed one', async () => {
    const fake = fakeProducer();
    const sender = new OrderedSender(fake.options);
    const generation = sender.generation;
    const first = sender.send([msg('a')], generation);
    await tick();
    fake.requests[0]!.settle(new Error('nope'));
    await expect(first).rejects.toThrow();
    await expect(sender.send([], generation)).rejects.toBeInstanceOf(RetryableError);
    await expect(sender.send([], sender.generation)).resolves.toBeUndefined();
  });
});
