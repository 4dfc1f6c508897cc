"""
Qdrant REST point operations (writes, vectors, reads and queries) turned into qdrant-edge objects,
with the BadRequest/Unsupported contract of edge_filters.py.
"""

import qdrant_edge as qe

from edge_collections import TOKENIZERS
from edge_filters import (BadRequest, Unsupported, given, listed, options, point_id, refuse, to_filter,
                          vector_name, with_payload, with_vector)

# Qdrant's default k for `fusion: rrf` (DEFAULT_RRF_K in Qdrant's segment crate).
DEFAULT_RRF_K = 2
# The one model Qdrant runs itself; any other needs an inference service this server does not have.
BM25_MODEL = "qdrant/bm25"

UPDATE_MODES = {"upsert": qe.UpdateMode.Upsert, "insert_only": qe.UpdateMode.InsertOnly,
                "update_only": qe.UpdateMode.UpdateOnly}


# Vectors


def vector_struct(value):
    """A point's vectors: one unnamed dense or multi-dense vector, a map of named ones, or a document."""
    if isinstance(value, list):
        return value
    if inference_object(value):
        return {"": vector(value)}
    return {vector_name(name): vector(item) for name, item in value.items()}


def vector(value, query=False):
    if isinstance(value, list):
        return value
    if inference_object(value):
        return bm25(value, query)
    return qe.SparseVector(value["indices"], value["values"])


def inference_object(value):
    return isinstance(value, dict) and isinstance(value.get("model"), str)


def bm25(body, query):
    if "text" not in body or body["model"].lower() != BM25_MODEL:
        raise Unsupported(f"inference with model {body['model']} (only {BM25_MODEL} runs inside Qdrant)")
    config = options(body.get("options"), {"k", "b", "avg_len", "tokenizer", "language", "lowercase",
                                           "ascii_folding", "min_token_len", "max_token_len"},
                     "bm25 option", {"tokenizer": TOKENIZERS.__getitem__})
    try:
        model = qe.Bm25(qe.Bm25Config(**config))
    except ValueError as error:
        raise BadRequest(f"Wrong input: {error}") from error
    return model.embed_query(body["text"]) if query else model.embed_document(body["text"])


# Points


def upsert(body):
    refuse(body, "shard_key")
    if "batch" in body:
        points = batch_points(body["batch"])
    else:
        points = [qe.Point(point_id(p["id"]), vector_struct(p["vector"]), p.get("payload")) for p in body["points"]]
    mode = body.get("update_mode")
    return qe.UpdateOperation.upsert_points(points, condition=to_filter(body.get("update_filter")),
                                            update_mode=None if mode is None else UPDATE_MODES[mode])


def batch_points(batch):
    ids, vectors, payloads = batch["ids"], batch["vectors"], batch.get("payloads") or []
    if isinstance(vectors, dict):
        per_point = [{vector_name(name): vector(items[i]) for name, items in vectors.items()} for i in range(len(ids))]
    else:
        per_point = [vector_struct(item) for item in vectors]
    if len(per_point) != len(ids):
        raise BadRequest("Wrong input: number of ids and vectors must be equal")
    return [qe.Point(point_id(i), v, payloads[n] if n < len(payloads) else None)
            for n, (i, v) in enumerate(zip(ids, per_point))]


def by_points_or_filter(body, by_ids, by_filter, *args, **kwargs):
    """An operation on the listed points, or on the points a filter selects."""
    refuse(body, "shard_key")
    if given(body, "points") and given(body, "filter"):
        raise Unsupported("a selector with both points and filter")
    if given(body, "points"):
        return by_ids([point_id(i) for i in body["points"]], *args, **kwargs)
    if given(body, "filter"):
        return by_filter(to_filter(body["filter"]), *args, **kwargs)
    raise BadRequest("Validation error in JSON body: either points or filter is required")


def delete(body):
    return by_points_or_filter(body, qe.UpdateOperation.delete_points, qe.UpdateOperation.delete_points_by_filter)


def set_payload(body):
    return by_points_or_filter(body, qe.UpdateOperation.set_payload, qe.UpdateOperation.set_payload_by_filter,
                               body["payload"], key=body.get("key"))


def overwrite_payload(body):
    return by_points_or_filter(body, qe.UpdateOperation.overwrite_payload, qe.UpdateOperation.overwrite_payload_by_filter,
                               body["payload"], key=body.get("key"))


def delete_payload(body):
    return by_points_or_filter(body, qe.UpdateOperation.delete_payload, qe.UpdateOperation.delete_payload_by_filter,
                               body["keys"])


def clear_payload(body):
    return by_points_or_filter(body, qe.UpdateOperation.clear_payload, qe.UpdateOperation.clear_payload_by_filter)


def update_vectors(body):
    refuse(body, "shard_key")
    points = [qe.PointVectors(point_id(p["id"]), vector_struct(p["vector"])) for p in body["points"]]
    return qe.UpdateOperation.update_vectors(points, condition=to_filter(body.get("update_filter")))


def delete_vectors(body):
    names = [vector_name(name) for name in body["vector"]]
    return by_points_or_filter(body, qe.UpdateOperation.delete_vectors, qe.UpdateOperation.delete_vectors_by_filter, names)


UPDATES = {
    "upsert": upsert,
    "delete": delete,
    "set_payload": set_payload,
    "overwrite_payload": overwrite_payload,
    "delete_payload": delete_payload,
    "clear_payload": clear_payload,
    "update_vectors": update_vectors,
    "delete_vectors": delete_vectors,
}


def batch(body):
    """Every operation of a batch update, all mapped before the first is applied."""
    return [UPDATES[kind](operation) for item in body["operations"] for kind, operation in item.items()]


# Reads


def scroll(body):
    refuse(body, "shard_key")
    offset = body.get("offset")
    return qe.ScrollRequest(offset=None if offset is None else point_id(offset), limit=body.get("limit") or 10,
                            filter=to_filter(body.get("filter")), with_payload=with_payload(body.get("with_payload"), True),
                            with_vector=with_vector(body.get("with_vector")),
                            order_by=None if body.get("order_by") is None else order_by(body["order_by"]))


def count(body):
    refuse(body, "shard_key")
    return qe.CountRequest(exact=body.get("exact", True), filter=to_filter(body.get("filter")))


def query(body):
    refuse(body, "shard_key", "lookup_from")
    return qe.QueryRequest(limit=body.get("limit") or 10, offset=body.get("offset"),
                           query=scoring(body.get("query"), body.get("using")), prefetches=prefetches(body),
                           with_vector=with_vector(body.get("with_vector")),
                           with_payload=with_payload(body.get("with_payload"), False), filter=to_filter(body.get("filter")),
                           score_threshold=body.get("score_threshold"), params=search_params(body.get("params")))


def prefetches(body):
    items = listed(body.get("prefetch"))
    if not items:
        return None
    for item in items:
        refuse(item, "lookup_from")
    return [qe.Prefetch(limit=item.get("limit") or 10, query=scoring(item.get("query"), item.get("using")),
                        prefetches=prefetches(item), params=search_params(item.get("params")),
                        filter=to_filter(item.get("filter")), score_threshold=item.get("score_threshold"))
            for item in items]


def scoring(body, using):
    using = None if using is None else vector_name(using)
    if body is None:
        return None
    if isinstance(body, (int, str)):
        # Qdrant's collection layer looks the point's vector up first; the shard takes vectors only.
        raise Unsupported("a query by point id")
    if isinstance(body, list) or "indices" in body or inference_object(body):
        return qe.Query.Nearest(vector(body, query=True), using=using)
    if "nearest" in body:
        refuse(body, "mmr")
        return scoring(body["nearest"], using)
    if "fusion" in body:
        return qe.Fusion.Rrf(k=DEFAULT_RRF_K) if body["fusion"] == "rrf" else qe.Fusion.Dbsf()
    if "rrf" in body:
        return qe.Fusion.Rrf(k=body["rrf"].get("k") or DEFAULT_RRF_K, weights=body["rrf"].get("weights"))
    if "order_by" in body:
        return order_by(body["order_by"])
    if "sample" in body:
        return qe.Sample.Random
    raise Unsupported(f"{next(iter(body), 'an empty')} queries")


def order_by(body):
    if isinstance(body, str):
        return qe.OrderBy(key=body)
    direction = body.get("direction")
    return qe.OrderBy(key=body["key"], direction=None if direction is None else getattr(qe.Direction, direction.capitalize()),
                      start_from=body.get("start_from"))


def search_params(body):
    if body is None:
        return None
    quantization, acorn = body.get("quantization"), body.get("acorn")
    return qe.SearchParams(
        hnsw_ef=body.get("hnsw_ef"), exact=body.get("exact") or False, indexed_only=body.get("indexed_only") or False,
        quantization=None if quantization is None else qe.QuantizationSearchParams(**options(
            quantization, {"ignore", "rescore", "oversampling"}, "quantization search parameter")),
        acorn=None if acorn is None else qe.AcornSearchParams(**options(acorn, {"enable", "max_selectivity"}, "acorn parameter")))
