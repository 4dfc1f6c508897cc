"""
Point ids, filters and result selectors of Qdrant's REST API turned into qdrant-edge objects.

Bodies arrive already checked against the API's schema (validator.ts), so this module only maps
shapes. It raises BadRequest for input that Qdrant itself rejects, and Unsupported for input that
the REST API accepts but qdrant-edge-py 0.9 cannot express (or this server does not map yet): the
server then answers 400 and records a violation, so no test passes on a request that was quietly
answered some other way.
"""

import json
import uuid

import numpy as np
import qdrant_edge as qe


class BadRequest(Exception):
    """Input real Qdrant answers with 400; the message is the one a client sees."""


class Unsupported(Exception):
    """Input the REST API accepts that this server cannot hand to the edge shard."""


# An edge shard needs at least one vector, while Qdrant accepts a collection created with
# `vectors: {}` (no vectors at all, as the stores' head records use). Such a collection gets one
# sparse vector under this name; no point ever has it, and a request that names it is answered as
# Qdrant answers an unknown vector name.
NO_VECTORS = "__no_vectors__"


def given(body, key):
    return body is not None and body.get(key) is not None


def refuse(body, *keys):
    for key in keys:
        if given(body, key):
            raise Unsupported(key)


def options(body, allowed, what, convert=None):
    """The given keys of `body` as keyword arguments; any other key is Unsupported."""
    out = {}
    for key, value in (body or {}).items():
        if value is None:
            continue
        if key not in allowed:
            raise Unsupported(f"{what} {key}")
        out[key] = convert[key](value) if convert and key in convert else value
    return out


def listed(value):
    """A condition or a list of them, as the API allows, as a list (None stays None)."""
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def point_id(value):
    # Qdrant takes unsigned integers and UUIDs in any of their text forms.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise BadRequest(
        f"Format error in JSON body: value {json.dumps(value)} is not a valid point ID, "
        "valid values are either an unsigned integer or a UUID"
    )


def vector_name(name):
    if name == NO_VECTORS:
        raise BadRequest(f"Wrong input: Not existing vector name error: {name}")
    return name


# Filters


def to_filter(body):
    if body is None:
        return None
    min_should = body.get("min_should")
    return qe.Filter(
        must=conditions(body.get("must")),
        should=conditions(body.get("should")),
        must_not=conditions(body.get("must_not")),
        min_should=None
        if min_should is None
        else qe.MinShould(conditions(min_should["conditions"]), min_should["min_count"]),
    )


def conditions(value):
    # An empty list is kept: Qdrant reads `should: []` as a condition nothing satisfies.
    items = listed(value)
    return None if items is None else [condition(item) for item in items]


def condition(body):
    if "key" in body:
        return field_condition(body)
    if "is_empty" in body:
        return qe.IsEmptyCondition(body["is_empty"]["key"])
    if "is_null" in body:
        return qe.IsNullCondition(body["is_null"]["key"])
    if "has_id" in body:
        return qe.HasIdCondition({point_id(value) for value in body["has_id"]})
    if "has_vector" in body:
        return qe.HasVectorCondition(vector_name(body["has_vector"]))
    if "nested" in body:
        return qe.NestedCondition(body["nested"]["key"], to_filter(body["nested"]["filter"]))
    if "slice" in body:
        raise Unsupported("slice conditions")
    return to_filter(body)


def field_condition(body):
    parts = {}
    if given(body, "match"):
        parts["match"] = match(body["match"])
    if given(body, "range"):
        parts["range"] = value_range(body["range"])
    if given(body, "geo_bounding_box"):
        box = body["geo_bounding_box"]
        parts["geo_bounding_box"] = qe.GeoBoundingBox(geo_point(box["top_left"]), geo_point(box["bottom_right"]))
    if given(body, "geo_radius"):
        parts["geo_radius"] = qe.GeoRadius(geo_point(body["geo_radius"]["center"]), body["geo_radius"]["radius"])
    if given(body, "geo_polygon"):
        polygon = body["geo_polygon"]
        interiors = polygon.get("interiors")
        parts["geo_polygon"] = qe.GeoPolygon(
            [geo_point(p) for p in polygon["exterior"]["points"]],
            None if interiors is None else [[geo_point(p) for p in line["points"]] for line in interiors],
        )
    if given(body, "values_count"):
        parts["values_count"] = qe.ValuesCount(**bounds(body["values_count"]))
    for flag in ("is_empty", "is_null"):
        if given(body, flag):
            parts[flag] = body[flag]
    if not parts:
        raise BadRequest(f"Validation error in JSON body: field condition on `{body['key']}` has no condition")
    return qe.FieldCondition(key=body["key"], **parts)


def match(body):
    if "value" in body:
        value = body["value"]
        # qdrant-edge-py 0.9 tries an integer before a bool, and a Python bool is an integer, so
        # MatchValue(True) would match the number 1 and never `true`. A numpy bool is no integer
        # (numpy >= 2.3), so it reaches the bool variant. edge_shard.py checks this at start.
        return qe.MatchValue(np.bool_(value) if isinstance(value, bool) else value)
    for key, kind in (("text", qe.MatchText), ("text_any", qe.MatchTextAny), ("phrase", qe.MatchPhrase),
                      ("prefix", qe.MatchPrefix), ("any", qe.MatchAny), ("except", qe.MatchExcept)):
        if key in body:
            return kind(body[key])
    raise Unsupported(f"match {json.dumps(body)}")


def bounds(body):
    return {key: body[key] for key in ("gt", "gte", "lt", "lte") if body.get(key) is not None}


def value_range(body):
    found = bounds(body)
    if any(isinstance(value, str) for value in found.values()):
        return qe.RangeDateTime(**found)
    return qe.RangeFloat(**found)


def geo_point(body):
    return qe.GeoPoint(lon=body["lon"], lat=body["lat"])


# What to return


def with_payload(value, default):
    if value is None:
        return default
    if isinstance(value, (bool, list)):
        return value
    if "include" in value:
        return qe.PayloadSelector.Include(listed(value["include"]))
    return qe.PayloadSelector.Exclude(listed(value["exclude"]))


def with_vector(value, default=False):
    if value is None:
        return default
    return value if isinstance(value, bool) else [vector_name(name) for name in value]
