"""
Collection parameters and payload index schemas of Qdrant's REST API turned into qdrant-edge
configuration, with the BadRequest/Unsupported contract of edge_filters.py.
"""

import qdrant_edge as qe

from edge_filters import NO_VECTORS, Unsupported, options, refuse, vector_name

DISTANCES = {"Cosine": qe.Distance.Cosine, "Dot": qe.Distance.Dot, "Euclid": qe.Distance.Euclid,
             "Manhattan": qe.Distance.Manhattan}
DATATYPES = {"float32": qe.VectorStorageDatatype.Float32, "float16": qe.VectorStorageDatatype.Float16,
             "uint8": qe.VectorStorageDatatype.Uint8}
MEMORY = {"cold": qe.Memory.Cold, "cached": qe.Memory.Cached, "pinned": qe.Memory.Pinned}
TOKENIZERS = {"prefix": qe.TokenizerType.Prefix, "whitespace": qe.TokenizerType.Whitespace,
              "word": qe.TokenizerType.Word, "multilingual": qe.TokenizerType.Multilingual}


def edge_config(body):
    # Cluster settings mean nothing to a single shard and change no answer; settings that would
    # change how the shard indexes or quantizes are refused rather than ignored.
    refuse(body, "hnsw_config", "optimizers_config", "quantization_config", "strict_mode_config", "payload")
    if body.get("sharding_method") == "custom":
        raise Unsupported("custom sharding")
    vectors = body.get("vectors") or {}
    if "size" in vectors:
        dense = vector_params(vectors)
    else:
        dense = {vector_name(name): vector_params(params) for name, params in vectors.items()}
    sparse = {vector_name(name): sparse_params(params or {})
              for name, params in (body.get("sparse_vectors") or {}).items()}
    if not dense and not sparse:
        sparse = {NO_VECTORS: qe.EdgeSparseVectorParams()}
    # One search thread per shard: a test server holds many small shards on a 2-core machine. No
    # write-ahead log: the shard lives only as long as the server, and a WAL changes no answer.
    return qe.EdgeConfig(vectors=dense or None, sparse_vectors=sparse or None, max_search_threads=1,
                         wal_enabled=False)


def vector_params(body):
    extra = options({k: v for k, v in body.items() if k not in ("size", "distance")},
                    {"on_disk", "datatype", "multivector_config", "memory"}, "vector parameter",
                    {"datatype": datatype, "memory": MEMORY.__getitem__,
                     "multivector_config": lambda _: qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)})
    return qe.EdgeVectorParams(size=body["size"], distance=DISTANCES[body["distance"]], **extra)


def datatype(name):
    if name not in DATATYPES:
        raise Unsupported(f"vector datatype {name}")
    return DATATYPES[name]


def sparse_params(body):
    extra = options(body.get("index"), {"full_scan_threshold", "on_disk", "datatype", "memory"},
                    "sparse index parameter", {"datatype": datatype, "memory": MEMORY.__getitem__})
    modifier = qe.Modifier.Idf if body.get("modifier") == "idf" else None
    return qe.EdgeSparseVectorParams(modifier=modifier, **extra)


INDEX_PARAMS = {
    "keyword": (qe.KeywordIndexParams, {"is_tenant", "on_disk", "enable_hnsw", "prefix", "memory"}),
    "integer": (qe.IntegerIndexParams, {"lookup", "range", "is_principal", "on_disk", "enable_hnsw", "memory"}),
    "float": (qe.FloatIndexParams, {"is_principal", "on_disk", "enable_hnsw", "memory"}),
    "geo": (qe.GeoIndexParams, {"on_disk", "enable_hnsw", "memory"}),
    "bool": (qe.BoolIndexParams, {"on_disk", "enable_hnsw", "memory"}),
    "datetime": (qe.DatetimeIndexParams, {"is_principal", "on_disk", "enable_hnsw", "memory"}),
    "uuid": (qe.UuidIndexParams, {"is_tenant", "on_disk", "enable_hnsw", "memory"}),
    "text": (qe.TextIndexParams, {"tokenizer", "min_token_len", "max_token_len", "lowercase", "ascii_folding",
                                  "phrase_matching", "on_disk", "enable_hnsw", "memory"}),
}


def field_index(body):
    schema = body.get("field_schema")
    if schema is None:
        # The edge shard takes an index only with its type named.
        raise Unsupported("a payload index without field_schema")
    if isinstance(schema, str):
        return qe.UpdateOperation.create_field_index(body["field_name"], getattr(qe.PayloadSchemaType, schema.capitalize()))
    kind, allowed = INDEX_PARAMS[schema["type"]]
    params = options({k: v for k, v in schema.items() if k != "type"}, allowed, f"{schema['type']} index parameter",
                     {"memory": MEMORY.__getitem__, "tokenizer": TOKENIZERS.__getitem__})
    return qe.UpdateOperation.create_field_index(body["field_name"], kind(**params))
