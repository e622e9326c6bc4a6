"""DynamoDB's refusals that moto lets through, so a request DynamoDB would refuse fails in tests rather than in
production.

Each check refuses with DynamoDB's own error code and message, and only what DynamoDB documents (or is known) to
refuse; where its behaviour was not certain the check was left out (docs/TESTING.md, section 6, lists both):

- every ExpressionAttributeNames and ExpressionAttributeValues entry must be used by the request's expressions
  (moto checks values on UpdateItem alone, and names only against some of the expressions);
- an expression is at most 4 KB (4096 bytes of the string as sent);
- a Query's FilterExpression may not name a key attribute of the table or index it queries;
- a number has at most 38 significant digits, wherever an item stores it (moto checks only its range);
- a secondary index's key attribute, written, must have the type the table defines for it (moto checks only NULL);
- a BatchWriteItem holds at most 25 requests (moto takes any number);
- a transaction's ClientRequestToken is at most 36 characters (the service model's limit, which botocore leaves to
  the service);
- a key read, updated or deleted is at most 2048 bytes (partition) and 1024 (sort), and not an empty string
  (devtools.moto_keys).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from devtools.moto_keys import check_key, check_partition_value

EXPRESSION_BYTES = 4096
BATCH_WRITES = 25
TOKEN_CHARACTERS = 36
NUMBER_DIGITS = 38
EXPRESSIONS = ("KeyConditionExpression", "FilterExpression", "ConditionExpression", "UpdateExpression",
               "ProjectionExpression")
_VALUE_PLACEHOLDER = re.compile(r":[A-Za-z0-9_]+")
_NAME_PLACEHOLDER = re.compile(r"#[A-Za-z0-9_]+")
# A path's first element, as a placeholder or a bare name: not a nested element (after "."), not a function.
_TOP_NAME = re.compile(r"(?<![\w.#:])(#?[A-Za-z_]\w*)\b(?!\s*\()")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
_EXPONENT = re.compile(r"[eE]")


def _refuse(message: str) -> None:
    raise MockValidationException(message)  # moto answers it as DynamoDB does: 400, ValidationException


def _expressions(request: dict[str, Any]) -> dict[str, str]:
    return {name: request[name] for name in EXPRESSIONS if request.get(name)}


def check_placeholders_used(request: dict[str, Any]) -> None:
    text = " ".join(_expressions(request).values())
    used_values, used_names = set(_VALUE_PLACEHOLDER.findall(text)), set(_NAME_PLACEHOLDER.findall(text))
    for kind, given, used in (("Names", request.get("ExpressionAttributeNames"), used_names),
                              ("Values", request.get("ExpressionAttributeValues"), used_values)):
        unused = [placeholder for placeholder in (given or {}) if placeholder not in used]
        if unused:
            _refuse(f"Value provided in ExpressionAttribute{kind} unused in expressions: keys: {{{', '.join(unused)}}}")


def check_expression_sizes(request: dict[str, Any]) -> None:
    for name, expression in _expressions(request).items():
        size = len(expression.encode())
        if size > EXPRESSION_BYTES:
            _refuse(f"Invalid {name.removesuffix('Expression')}Expression: Expression size has exceeded the maximum "
                    f"allowed size; expression size: {size}")


def significant_digits(number: str) -> int:
    mantissa = _EXPONENT.split(number.strip(), maxsplit=1)[0].lstrip("+-").replace(".", "")
    return len(mantissa.strip("0"))


def _numbers(value: dict[str, Any]) -> Iterable[str]:
    (kind, data), = value.items()
    if kind == "N":
        yield data
    elif kind == "NS":
        yield from data
    elif kind == "L":
        for member in data:
            yield from _numbers(member)
    elif kind == "M":
        for member in data.values():
            yield from _numbers(member)


def check_number_precision(values: Iterable[dict[str, Any]]) -> None:
    for value in values:
        for number in _numbers(value):
            if significant_digits(number) > NUMBER_DIGITS:
                _refuse("Attempting to store more than 38 significant digits in a Number")


def _placeholders_of(expression: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return [values[placeholder] for placeholder in _VALUE_PLACEHOLDER.findall(expression) if placeholder in values]


def check_index_key_types(table: Table, item: dict[str, Any]) -> None:
    defined = {definition["AttributeName"]: definition["AttributeType"] for definition in table.attr}
    for index in table.global_indexes:
        for name in index.schema_key_attrs:
            if name in item and name in defined:
                actual = next(iter(item[name]))
                if actual != defined[name]:
                    _refuse(f"One or more parameter values were invalid: Type mismatch for Index Key {name} "
                            f"Expected: {defined[name]} Actual: {actual} IndexName: {index.name}")


def _key_names(table: Table, index_name: str | None) -> set[str]:
    if index_name is None:
        return {name for name in (table.hash_key_attr, table.range_key_attr) if name}
    index = next((index for index in table.all_indexes() if index.name == index_name), None)
    return set(index.schema_key_attrs) if index is not None else set()  # an unknown index: moto refuses it


def check_filter_names_no_key(table: Table, request: dict[str, Any]) -> None:
    names = request.get("ExpressionAttributeNames") or {}
    keys = _key_names(table, request.get("IndexName"))
    for token in _TOP_NAME.findall(request.get("FilterExpression") or ""):
        if token.upper() in _KEYWORDS:
            continue
        name = names.get(token, token) if token.startswith("#") else token
        if name in keys:
            _refuse(f"Filter Expression can only contain non-primary key attributes: Primary key attribute: {name}")


def _table(handler: DynamoHandler, request: dict[str, Any]) -> Table | None:
    return handler.dynamodb_backend.tables.get(request.get("TableName"))


def check_write(handler: DynamoHandler, request: dict[str, Any], operation: str) -> None:
    """One write, alone or a member of a transaction."""
    check_placeholders_used(request)
    check_expression_sizes(request)
    table = _table(handler, request)
    check_key(table, request.get("Key"))
    if operation == "Put":
        check_number_precision(request["Item"].values())
        if table is not None:
            check_index_key_types(table, request["Item"])
    if operation == "Update":
        check_number_precision(_placeholders_of(request.get("UpdateExpression") or "",
                                                request.get("ExpressionAttributeValues") or {}))


def check_query(handler: DynamoHandler, request: dict[str, Any]) -> None:
    check_placeholders_used(request)
    check_expression_sizes(request)
    table = _table(handler, request)
    if table is not None:
        check_filter_names_no_key(table, request)
        check_partition_value(table, request)


def check_scan(handler: DynamoHandler, request: dict[str, Any]) -> None:
    check_placeholders_used(request)
    check_expression_sizes(request)


def check_transaction(handler: DynamoHandler, request: dict[str, Any]) -> None:
    token = request.get("ClientRequestToken")
    if token is not None and len(token) > TOKEN_CHARACTERS:
        _refuse(f"1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: "
                f"Member must have length less than or equal to {TOKEN_CHARACTERS}")
    for member in request.get("TransactItems") or []:
        for operation, write in member.items():
            check_write(handler, write, operation)


def check_get(handler: DynamoHandler, request: dict[str, Any]) -> None:
    check_key(_table(handler, request), request.get("Key"))


def check_batch_get(handler: DynamoHandler, request: dict[str, Any]) -> None:
    for table_name, asked in (request.get("RequestItems") or {}).items():
        table = handler.dynamodb_backend.tables.get(table_name)
        for key in asked.get("Keys") or []:
            check_key(table, key)


def check_batch_write(handler: DynamoHandler, request: dict[str, Any]) -> None:
    if sum(len(writes) for writes in (request.get("RequestItems") or {}).values()) > BATCH_WRITES:
        _refuse("Too many items requested for the BatchWriteItem call")


CHECKS: dict[str, Callable[[DynamoHandler, dict[str, Any]], None]] = {
    "put_item": lambda handler, request: check_write(handler, request, "Put"),
    "update_item": lambda handler, request: check_write(handler, request, "Update"),
    "delete_item": lambda handler, request: check_write(handler, request, "Delete"),
    "query": check_query,
    "scan": check_scan,
    "transact_write_items": check_transaction,
    "batch_write_item": check_batch_write,
    "get_item": check_get,
    "batch_get_item": check_batch_get,
}
STOCK = {action: getattr(DynamoHandler, action) for action in CHECKS}


def _checked(action: str):
    stock, check = STOCK[action], CHECKS[action]

    def checked_action(self: DynamoHandler):
        check(self, self.body)
        return stock(self)

    checked_action.__name__ = action
    return checked_action


def install() -> None:
    for action in CHECKS:  # wrapping the stock actions, so installing twice checks once
        setattr(DynamoHandler, action, _checked(action))
