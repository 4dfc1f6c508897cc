"""
The storage and query engine of the Qdrant test server: Qdrant's own engine, embedded through
qdrant-edge-py, one edge shard per collection under a directory server.ts gives as the only
argument (it is removed when the process ends).

server.ts writes one JSON request per line on stdin, {"id", "op", "collection", "body"}, and reads
one answer per line on stdout: {"id", "result"} with the `result` of Qdrant's response envelope, or
{"id", "error": {"status", "message", "kind"}} where kind is "rejected" (Qdrant would answer the
same), "unsupported" (the REST API allows it, the edge shard cannot do it) or "crashed" (a bug
here or in the engine). Requests are handled one at a time, in arrival order, as Qdrant's update
queue applies a shard's writes.
"""

import json
import shutil
import sys
import traceback
import uuid
from pathlib import Path

import numpy as np
import qdrant_edge as qe

import edge_collections as collection_config
import edge_filters as filters
import edge_requests as requests


class NotFound(Exception):
    pass


def f32(values):
    # Qdrant stores and scores in float32 and prints the shortest text that reads back as the same
    # float32 (0.18257418, not the double 0.18257418274879456); numpy prints float32 the same way.
    return [float(str(value)) for value in np.asarray(values, dtype=np.float32)]


def id_json(value):
    return str(value) if isinstance(value, uuid.UUID) else value


def vector_json(value):
    if isinstance(value, qe.SparseVector):
        return {"indices": list(value.indices), "values": f32(value.values)}
    if isinstance(value, dict):
        return {name: vector_json(item) for name, item in value.items() if name != filters.NO_VECTORS}
    if value and isinstance(value[0], list):
        return [f32(item) for item in value]
    return f32(value)


def record_json(point, score=False):
    out = {"id": id_json(point.id)}
    if score:
        out["version"] = point.version
        out["score"] = f32([point.score])[0]
    if point.payload is not None:
        out["payload"] = point.payload
    if point.vector is not None:
        out["vector"] = vector_json(point.vector)
    if point.order_value is not None:
        out["order_value"] = point.order_value
    return out


ENUMS = (qe.PayloadSchemaType, qe.Memory, qe.TokenizerType)


def enum_json(value):
    # The binding's enums have no `name`; their repr is `PayloadSchemaType.Keyword`.
    return repr(value).rpartition(".")[2].lower() if isinstance(value, ENUMS) else value


def index_params_json(params):
    if params is None:
        return None
    kind = type(params).__name__.removesuffix("IndexParams").lower()
    out = {"type": kind}
    for key in dir(params):
        value = None if key.startswith("_") else getattr(params, key)
        if value is not None and not callable(value):
            out[key] = enum_json(value)
    return out


class Collections:
    def __init__(self, root):
        self.root = Path(root)
        self.shards = {}
        self.paths = {}
        self.operations = {}
        self.created = 0

    def shard(self, name):
        if name not in self.shards:
            raise NotFound(f"Not found: Collection `{name}` doesn't exist!")
        return self.shards[name]

    def create(self, name, body):
        if name in self.shards:
            raise filters.BadRequest(f"Wrong input: Collection `{name}` already exists!")
        config = collection_config.edge_config(body)
        self.created += 1
        # Directories are numbered: a collection name may hold characters no file name can.
        self.paths[name] = self.root / str(self.created)
        self.shards[name] = qe.EdgeShard.create(str(self.paths[name]), config)
        self.operations[name] = 0
        return True

    def drop(self, name, _body):
        shard = self.shards.pop(name, None)
        if shard is None:
            return False
        shard.close()
        shutil.rmtree(self.paths.pop(name), ignore_errors=True)
        return True

    def update(self, name, operation, wait):
        self.shard(name).update(operation)
        self.operations[name] += 1
        # Applied before the answer either way; `wait` only changes what Qdrant reports.
        return {"operation_id": self.operations[name], "status": "completed" if wait else "acknowledged"}

    def info(self, name, _body):
        info = self.shard(name).info()
        schema = {}
        for field, index in info.payload_schema.items():
            schema[field] = {"data_type": enum_json(index.data_type), "points": index.points}
            if index.params is not None:
                schema[field]["params"] = index_params_json(index.params)
        return {"points_count": info.points_count, "indexed_vectors_count": info.indexed_vectors_count,
                "segments_count": info.segments_count, "payload_schema": schema}

    def retrieve(self, name, body):
        ids = [filters.point_id(value) for value in body["ids"]]
        found = self.shard(name).retrieve(ids, filters.with_payload(body.get("with_payload"), True),
                                          filters.with_vector(body.get("with_vector")))
        return [record_json(point) for point in found]

    def retrieve_one(self, name, body):
        found = self.shard(name).retrieve([filters.point_id(body["id"])], True, True)
        if not found:
            raise NotFound(f"Not found: Point with id {body['id']} does not exists!")
        return record_json(found[0])

    def scroll(self, name, body):
        points, next_offset = self.shard(name).scroll(requests.scroll(body))
        return {"points": [record_json(point) for point in points],
                "next_page_offset": None if next_offset is None else id_json(next_offset)}

    def count(self, name, body):
        return {"count": self.shard(name).count(requests.count(body))}

    def query(self, name, body):
        return {"points": [record_json(point, score=True) for point in self.shard(name).query(requests.query(body))]}

    def query_batch(self, name, body):
        batch = qe.QueryBatchRequest([requests.query(search) for search in body["searches"]])
        return [{"points": [record_json(point, score=True) for point in points]}
                for points in self.shard(name).query_batch(batch)]

    def close(self):
        for shard in self.shards.values():
            shard.close()
        self.shards.clear()


UPDATES = {
    "upsert_points": requests.upsert,
    "delete_points": requests.delete,
    "set_payload": requests.set_payload,
    "overwrite_payload": requests.overwrite_payload,
    "delete_payload": requests.delete_payload,
    "clear_payload": requests.clear_payload,
    "update_vectors": requests.update_vectors,
    "delete_vectors": requests.delete_vectors,
    "create_field_index": collection_config.field_index,
}


def engine_error(message):
    """Qdrant's status for an engine error, which the binding raises as a bare Exception."""
    if message.startswith("No point with id"):
        return 404, f"Not found: {message}", "rejected"
    if message.startswith(("Service internal error", "Service runtime error", "Operation cancelled")):
        return 500, message, "crashed"
    return 400, f"Wrong input: {message}", "rejected"


def handle(collections, request):
    op, name, body = request["op"], request.get("collection"), request.get("body") or {}
    wait = request.get("wait", False)
    if op in UPDATES:
        operation = UPDATES[op](body)
        return collections.update(name, operation, wait)
    if op == "batch_update":
        # Applied in order, like Qdrant: an operation that fails leaves the earlier ones applied.
        return [collections.update(name, operation, wait) for operation in requests.batch(body)]
    method = {"create": collections.create, "drop": collections.drop, "info": collections.info,
              "get_points": collections.retrieve, "get_point": collections.retrieve_one,
              "scroll_points": collections.scroll, "count_points": collections.count,
              "query_points": collections.query, "query_batch_points": collections.query_batch}[op]
    return method(name, body)


def answer(collections, request):
    try:
        return {"result": handle(collections, request)}
    except filters.BadRequest as error:
        return {"error": {"status": 400, "message": str(error), "kind": "rejected"}}
    except filters.Unsupported as error:
        return {"error": {"status": 400, "message": f"the test server does not implement {error}", "kind": "unsupported"}}
    except NotFound as error:
        return {"error": {"status": 404, "message": str(error), "kind": "rejected"}}
    except Exception as error:  # every failure must reach the client as an answer
        if type(error) is Exception:
            status, message, kind = engine_error(str(error))
        else:
            status, message, kind = 500, f"Service internal error: {traceback.format_exc()}", "crashed"
        return {"error": {"status": status, "message": message, "kind": kind}}


def check_binding():
    # See edge_filters.match: without this, a filter on a bool field would silently match nothing.
    if type(qe.MatchValue(np.bool_(True)).value) is not bool:
        sys.exit(f"numpy {np.__version__} lets a bool pass as an integer; qdrant-edge needs numpy >= 2.3 here")


def main():
    root = Path(sys.argv[1])
    check_binding()
    collections = Collections(root)
    try:
        sys.stdout.write(json.dumps({"ready": True}) + "\n")
        sys.stdout.flush()
        for line in sys.stdin:
            request = json.loads(line)
            reply = answer(collections, request)
            try:
                text = json.dumps({"id": request["id"], **reply})
            except (TypeError, ValueError) as error:
                text = json.dumps({"id": request["id"], "error": {
                    "status": 500, "message": f"Service internal error: unprintable answer: {error}", "kind": "crashed"}})
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    finally:
        collections.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
