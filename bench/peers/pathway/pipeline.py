"""The Pathway peer of the side-by-side bench: the same change topics, the same documents, the same
embedding endpoint, a vector index kept by Pathway.

Reads every `<prefix>changes.<type>` topic from the beginning (raw Confluent-framed Avro values,
decoded with fastavro against the schema the registry holds for the id in the frame), keeps the
newest save of each entity, turns it into the text of its document (the fields ragsync's mappers
embed, HTML stripped), splits it into windows of about 200 words, embeds the chunks through the
shared OpenAI-compatible endpoint in batches of 64 (Pathway's batched UDF), and keeps them in a
brute-force KNN index (pathway.stdlib.indexing) that a query every second reads.

Progress goes to PROGRESS_FILE as one JSON object rewritten on every change: documents with every
chunk embedded, and of those how many hold a version at or above the number in UPDATED_FROM_FILE
(written by the bench before it publishes updates).

Environment: KAFKA_BROKERS, TOPIC_PREFIX, SCHEMA_REGISTRY_URL, EMBEDDING_URL, EMBEDDING_MODEL,
PROGRESS_FILE, UPDATED_FROM_FILE.
"""

import html
import io
import json
import os
import re
import threading
import time

import fastavro
import numpy as np
import pathway as pw
import requests

BROKERS = os.environ["KAFKA_BROKERS"]
PREFIX = os.environ["TOPIC_PREFIX"]
REGISTRY = os.environ["SCHEMA_REGISTRY_URL"].rstrip("/")
ENDPOINT = os.environ["EMBEDDING_URL"].rstrip("/") + "/embeddings"
MODEL = os.environ["EMBEDDING_MODEL"]
PROGRESS_FILE = os.environ["PROGRESS_FILE"]
UPDATED_FROM_FILE = os.environ["UPDATED_FROM_FILE"]
TYPES = ["product", "category", "cms_page", "cms_block", "promotion"]
TEXT_FIELDS = ["name", "title", "content_heading", "short_description", "description", "content", "meta_title", "meta_description", "conditions_summary"]
LIST_FIELDS = ["categories", "parent_names"]
WORDS_PER_CHUNK = 200

_schemas: dict[int, object] = {}
_session = requests.Session()


def _schema(schema_id: int):
    if schema_id not in _schemas:
        answer = _session.get(f"{REGISTRY}/schemas/ids/{schema_id}", timeout=30)
        answer.raise_for_status()
        _schemas[schema_id] = fastavro.parse_schema(json.loads(answer.json()["schema"]))
    return _schemas[schema_id]


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


@pw.udf
def decode(data: bytes | None) -> pw.Json:
    """A change value: Confluent framing (magic byte, 4-byte schema id), then the Avro body."""
    if data is None or len(data) < 5:
        return pw.Json(None)
    value = fastavro.schemaless_reader(io.BytesIO(data[5:]), _schema(int.from_bytes(data[1:5], "big")))
    return pw.Json(json.loads(json.dumps(value, default=str)))


@pw.udf
def doc_key(value: pw.Json, topic: str) -> str:
    v = value.as_dict()
    return f"{v['tenant']}/{topic.rsplit('changes.', 1)[1]}/{v['entity_id']}/{v['store_id']}"


@pw.udf
def version(value: pw.Json) -> int:
    return int(value.as_dict()["source_version"])


@pw.udf
def document_text(value: pw.Json) -> str:
    v = value.as_dict()
    parts = [_plain(str(v[f])) for f in TEXT_FIELDS if isinstance(v.get(f), str) and v.get(f)]
    for f in LIST_FIELDS:
        if isinstance(v.get(f), list) and v[f]:
            parts.append(" > ".join(str(x) for x in v[f]))
    return "\n".join(parts)


@pw.udf
def split(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + WORDS_PER_CHUNK]) for i in range(0, max(len(words), 1), WORDS_PER_CHUNK)]


@pw.udf(max_batch_size=64)
def embed(texts: list[str]) -> list[np.ndarray]:
    answer = _session.post(ENDPOINT, json={"model": MODEL, "input": texts, "encoding_format": "float"}, headers={"x-bench-client": "pathway"}, timeout=120)
    answer.raise_for_status()
    data = sorted(answer.json()["data"], key=lambda d: d["index"])
    return [np.asarray(d["embedding"], dtype=np.float32) for d in data]


def main() -> None:
    # One reader per topic: a list of topics is deprecated (only the first one is read).
    readers = [
        pw.io.kafka.read(
            {"bootstrap.servers": BROKERS, "group.id": f"{PREFIX}pathway-{os.getpid()}-{t}", "auto.offset.reset": "earliest", "session.timeout.ms": "6000"},
            topic=f"{PREFIX}changes.{t}",
            format="raw",
            with_metadata=True,
            autocommit_duration_ms=100,
        )
        for t in TYPES
    ]
    changes = pw.Table.concat_reindex(*readers)
    decoded = changes.select(value=decode(pw.this.data), topic=pw.this._metadata["topic"].as_str())
    saves = decoded.filter(pw.this.value.is_not_none()).select(key=doc_key(pw.this.value, pw.this.topic), version=version(pw.this.value), text=document_text(pw.this.value))
    # The newest save of each entity (one entity's records share a partition, so arrive in order).
    documents = saves.groupby(pw.this.key).reduce(pw.this.key, version=pw.reducers.max(pw.this.version), text=pw.reducers.latest(pw.this.text))
    chunks = documents.select(pw.this.key, pw.this.version, chunk=split(pw.this.text)).flatten(pw.this.chunk)
    vectors = chunks.select(pw.this.key, pw.this.version, pw.this.chunk, vector=embed(pw.this.chunk))

    index = pw.stdlib.indexing.DataIndex(vectors, pw.stdlib.indexing.BruteForceKnn(vectors.vector, metadata_column=None, dimensions=384, reserved_space=1024, metric=pw.stdlib.indexing.BruteForceKnnMetricKind.COS))

    # A query every second, each answered from the index as it is then (Pathway's brute-force
    # index answers queries as of now only), so the index is built and searched as data arrives.
    class Query(pw.io.python.ConnectorSubject):
        def run(self) -> None:
            while True:
                self.next(vector=np.ones(384, dtype=np.float32) / np.sqrt(384))
                time.sleep(1)

    class QuerySchema(pw.Schema):
        vector: np.ndarray

    queries = pw.io.python.read(Query(), schema=QuerySchema, autocommit_duration_ms=100)
    answers = index.query_as_of_now(queries.vector, number_of_matches=3).select(hits=pw.right.key)

    state: dict[str, int] = {}
    lock = threading.Lock()
    hits = {"answers": 0}

    def write_progress() -> None:
        try:
            updated_from = int(open(UPDATED_FROM_FILE).read().strip() or "0")
        except (FileNotFoundError, ValueError):
            updated_from = 0
        with lock:
            docs = len(state)
            updated = sum(1 for v in state.values() if updated_from and v >= updated_from)
        tmp = f"{PROGRESS_FILE}.tmp"
        with open(tmp, "w") as f:
            json.dump({"docs": docs, "updated": updated, "answers": hits["answers"], "at": time.time()}, f)
        os.replace(tmp, PROGRESS_FILE)

    per_doc = vectors.groupby(pw.this.key).reduce(pw.this.key, version=pw.reducers.max(pw.this.version))

    def on_change(key, row, time, is_addition):  # noqa: A002 (Pathway's callback signature)
        with lock:
            if is_addition:
                state[row["key"]] = row["version"]
            elif state.get(row["key"]) == row["version"]:
                del state[row["key"]]

    def on_time_end(time):  # noqa: A002
        write_progress()

    def on_answer(key, row, time, is_addition):  # noqa: A002
        if is_addition:
            hits["answers"] += 1
            write_progress()

    pw.io.subscribe(per_doc, on_change=on_change, on_time_end=on_time_end)
    pw.io.subscribe(answers, on_change=on_answer)
    write_progress()
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)


if __name__ == "__main__":
    main()
