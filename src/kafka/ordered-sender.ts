import type { Message, Producer } from 'kafkajs';
import { RetryableError } from '../core/errors.js';
import { classifyKafkaError } from './kafka-errors.js';

export type Outgoing = Message & { topic: string };

/**
 * The Kafka client OrderedSender sends with: one producer id (idempotent, acks=all), replaced
 * after a failed send. `send` resolves once Kafka acknowledged every message, which goes where
 * kafkajs' default (Java murmur2) partitioner puts its key. `kafkajsMessageProducer` adapts a
 * kafkajs producer; `PlatformaticMessageProducer` (src/kafka/platformatic-producer.ts), the one the
 * pipeline's stages use, is one over @platformatic/kafka.
 */
export interface MessageProducer {
  connect(): Promise<void>;
  send(messages: Outgoing[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A kafkajs producer as a MessageProducer: one request, the messages grouped by topic, acks=all. */
export function kafkajsMessageProducer(producer: Producer): MessageProducer {
  return {
    connect: () => producer.connect(),
    send: async (messages) => {
      await producer.sendBatch({ acks: -1, topicMessages: byTopic(messages) });
    },
    disconnect: () => producer.disconnect(),
  };
}

export interface OrderedSenderOptions {
  /** The producer to send with now (it changes after a failed send). */
  producer: () => Promise<MessageProducer>;
  /** Called once per failed send, before any later send: replace the producer. */
  onFailure: () => void;
  /** Key, value and header bytes per produce request at most (one message larger than this goes alone). */
  maxRequestBytes: number;
}

interface Entry {
  messages: Outgoing[];
  /** Messages of this entry already handed to a request. */
  sent: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Produces the outputs of slices in the order they were handed over, with one produce request in
 * flight at a time (acks=all): what is handed over while a request is in flight goes out together
 * in the next one, so the partitions of a stage share round trips instead of queueing one each.
 * `send` resolves when every message of the call was acknowledged.
 *
 * Order: a request is sent only after the previous one was acknowledged, and a failed request
 * fails every call waiting behind it, and every later call made with the generation current
 * before the failure: a partition that handed over slice N and N+1 can never have N+1 written and
 * N not. Its caller sees the error, re-reads from N and starts a new generation.
 */
export class OrderedSender {
  private readonly queue: Entry[] = [];
  private inFlight = false;
  private current = 0;

  constructor(private readonly options: OrderedSenderOptions) {}

  /** Changes after every failed send. */
  get generation(): number {
    return this.current;
  }

  send(messages: Outgoing[], generation: number): Promise<void> {
    if (generation !== this.current) {
      return Promise.reject(new RetryableError('an earlier produce of this partition failed; its later outputs are not sent', { code: 'kafka_send_failed' }));
    }
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, sent: 0, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const { messages, done, touched } = this.takeRound();
    try {
      const producer = await this.options.producer();
      await producer.send(messages);
      for (const entry of done) entry.resolve();
    } catch (error) {
      // Nothing queued behind a failed request may go out: fail it all and start a new generation.
      this.current += 1;
      const failed = [...new Set([...touched, ...this.queue.splice(0)])];
      this.options.onFailure();
      const classified = classifyKafkaError(error);
      for (const entry of failed) entry.reject(classified);
    } finally {
      this.inFlight = false;
      void this.pump();
    }
  }

  /** The next request: whole entries and parts of one, in order, up to the byte cap. */
  private takeRound(): { messages: Outgoing[]; done: Entry[]; touched: Entry[] } {
    const messages: Outgoing[] = [];
    const done: Entry[] = [];
    const touched: Entry[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const entry = this.queue[0]!;
      touched.push(entry);
      while (entry.sent < entry.messages.length) {
        const message = entry.messages[entry.sent]!;
        const size = sizeOf(message);
        if (messages.length > 0 && bytes + size > this.options.maxRequestBytes) return { messages, done, touched };
        messages.push(message);
        bytes += size;
        entry.sent += 1;
      }
      done.push(this.queue.shift()!);
    }
    return { messages, done, touched };
  }
}

function sizeOf(message: Outgoing): number {
  let size = 64 + (message.value?.length ?? 0) + (typeof message.key === 'string' ? message.key.length * 3 : (message.key?.length ?? 0));
  for (const [name, value] of Object.entries(message.headers ?? {})) size += name.length + (typeof value === 'string' ? value.length * 3 : (value as Buffer | undefined)?.length ?? 0);
  return size;
}

function byTopic(messages: Outgoing[]): Array<{ topic: string; messages: Message[] }> {
  const topics = new Map<string, Message[]>();
  for (const { topic, ...message } of messages) {
    let list = topics.get(topic);
    if (!list) topics.set(topic, (list = []));
    list.push(message);
  }
  return [...topics.entries()].map(([topic, list]) => ({ topic, messages: list }));
}
