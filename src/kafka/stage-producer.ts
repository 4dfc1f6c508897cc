import { Partitioners, type Kafka, type Producer } from 'kafkajs';

/**
 * The producer of stage outputs: idempotent, acks=all (set per send), and the same explicit
 * partitioner as every other producer (murmur2, as the Java client), so a key lands on the same
 * partition number along a chain of topics with equal partition counts.
 */
export function createStageProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}
