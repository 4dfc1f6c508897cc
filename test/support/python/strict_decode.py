"""Reads every record of the given topics with Confluent's own Python client and decodes every value
with its AvroDeserializer (fastavro underneath, strict UTF-8), as a consumer outside ragsync would.

Usage: strict_decode.py <bootstrap servers> <schema registry url> <topic prefix>
Prints one JSON object: records, decoded values and tombstones per topic, and every failure. Exits 1
when any key is not valid UTF-8 or any value is not in the wire format or does not decode.
"""
import json
import sys

from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main() -> int:
    bootstrap, registry_url, prefix = sys.argv[1:4]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix))
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    # A short fetch wait: each offsets query waits behind the consumer's fetch on the same connection.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ragsync-strict-decode", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    report = {"topics": {}, "failures": []}
    for topic in topics:
        metadata = admin.list_topics(topic, timeout=10).topics[topic]
        counts = {"records": 0, "decoded": 0, "tombstones": 0}
        report["topics"][topic] = counts
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            while True:
                message = consumer.poll(10)
                if message is None:
                    report["failures"].append({"topic": topic, "partition": partition, "error": "timed out before the end offset"})
                    break
                if message.error():
                    report["failures"].append({"topic": topic, "partition": partition, "error": str(message.error())})
                    break
                counts["records"] += 1
                where = {"topic": topic, "partition": partition, "offset": message.offset()}
                try:
                    (message.key() or b"").decode("utf-8", errors="strict")
                except UnicodeDecodeError as error:
                    report["failures"].append({**where, "error": f"key is not valid UTF-8: {error}"})
                value = message.value()
                if value is None:
                    counts["tombstones"] += 1
                elif len(value) < 5 or value[0] != 0:
                    report["failures"].append({**where, "error": "value is not in the Confluent wire format"})
                else:
                    try:
                        deserialize(value, SerializationContext(topic, MessageField.VALUE))
                        counts["decoded"] += 1
                    except Exception as error:  # every failure is a finding, whatever its type
                        report["failures"].append({**where, "error": f"{type(error).__name__}: {error}"})
                if message.offset() + 1 >= high:
                    break
    consumer.close()
    print(json.dumps(report))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
