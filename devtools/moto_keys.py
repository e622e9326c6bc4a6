"""DynamoDB's limits on the keys a request names, which moto checks only where a whole item is written.

DynamoDB refuses a key over 2048 bytes (partition) or 1024 bytes (sort), and an empty string in a key, on every
request naming one: GetItem, BatchGetItem, DeleteItem, UpdateItem, a transaction's members, a Query's partition
value (ValidationException, with the messages below). moto checks sizes only on whole-item writes, and answers a
read of an oversized key with nothing found. String keys only (ours): binary and number keys are left unchecked.
Installed as part of devtools.moto_strict.
"""

from __future__ import annotations

import re
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models.table import Table

HASH_KEY_BYTES, RANGE_KEY_BYTES = 2048, 1024
_EQUALITIES = (re.compile(r"(#?[A-Za-z_]\w*)\s*=\s*(:\w+)"), re.compile(r"(:\w+)\s*=\s*(#?[A-Za-z_]\w*)"))


def _string_bytes(value: dict[str, Any]) -> int | None:
    """A string's size as DynamoDB counts it (UTF-8); None for other types, left unchecked."""
    return len(value["S"].encode()) if "S" in value else None


def _check_key_value(name: str, value: dict[str, Any], limit: int) -> None:
    size = _string_bytes(value)
    if size == 0:
        _refuse("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
                f"an empty string value. Key: {name}")
    if size is not None and size > limit:
        _refuse("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit "
                f"of{HASH_KEY_BYTES} bytes" if limit == HASH_KEY_BYTES else
                "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size "
                f"limit of {RANGE_KEY_BYTES} bytes")


def check_key(table: Table | None, key: dict[str, Any] | None) -> None:
    if table is None or not key:
        return
    for name, limit in ((table.hash_key_attr, HASH_KEY_BYTES), (table.range_key_attr, RANGE_KEY_BYTES)):
        if name and name in key:
            _check_key_value(name, key[name], limit)


def check_partition_value(table: Table, request: dict[str, Any]) -> None:
    """The partition key's value a Query names, by equality (placeholders both sides of "=" resolved)."""
    names, values = request.get("ExpressionAttributeNames") or {}, request.get("ExpressionAttributeValues") or {}
    index_name = request.get("IndexName")
    if index_name is None:
        partition = table.hash_key_attr
    else:
        index = next((index for index in table.all_indexes() if index.name == index_name), None)
        hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"] if index else []
        partition = hashes[0] if len(hashes) == 1 else None
    expression = request.get("KeyConditionExpression") or ""
    pairs = list(_EQUALITIES[0].findall(expression))
    pairs += [(name, value) for value, name in _EQUALITIES[1].findall(expression)]
    for token, placeholder in pairs:
        if names.get(token, token) == partition and placeholder in values:
            _check_key_value(partition, values[placeholder], HASH_KEY_BYTES)


def _refuse(message: str) -> None:
    raise MockValidationException(message)
