"""moto's DynamoDB answers, with items passed through as they are rather than rebuilt value by value.

moto 5 builds every answer by walking the service's shape model, and an item's attribute value is a union of ten
members, each looked up through a chain of alias providers: about 70 µs per attribute, so on moto a read costs in
proportion to the attributes it returns (a 30-attribute item took 3 ms more to answer than a missing key). DynamoDB's
read latency hardly changes with an item's size within a 4 KB read unit.

moto already holds each item in the wire format ({"S": "..."}, {"N": "..."}, {"M": {...}}, ...), so for a value with
no binary in it (binary would need base64 encoding) the walk returns exactly what it was given: here such a value is
passed through. Everything else, binary values included, still goes through moto's own serializer.
"""

from __future__ import annotations

from typing import Any

from moto.core.serialize import BaseJSONSerializer

_stock_serialize_structure = BaseJSONSerializer._serialize_type_structure
_BINARY = frozenset({"B", "BS"})


def _as_sent(value: Any) -> bool:
    """True if `value` is an attribute value in wire format holding no binary anywhere."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (kind, data), = value.items()
    if kind in _BINARY:
        return False
    if kind == "M":
        return isinstance(data, dict) and all(_as_sent(member) for member in data.values())
    if kind == "L":
        return isinstance(data, list) and all(_as_sent(member) for member in data)
    return kind in ("S", "N", "SS", "NS", "BOOL", "NULL")


def _serialize_structure(self: BaseJSONSerializer, serialized, value: Any, shape, key: str) -> None:
    if key and shape.name == "AttributeValue" and "M" in shape.members and _as_sent(value):
        self._default_serialize(serialized, value, shape, key)
        return
    _stock_serialize_structure(self, serialized, value, shape, key)


def install() -> None:
    BaseJSONSerializer._serialize_type_structure = _serialize_structure
