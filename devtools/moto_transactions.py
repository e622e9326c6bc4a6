"""moto's TransactWriteItems, rolled back item by item instead of table by table.

Stock moto deep-copies every table a transaction names, once per item naming it, so that it can put the copies back
if the transaction is cancelled: a transaction then costs in proportion to everything already stored in its tables
(about 10 ms on a table of a few hundred items, 40 ms at a few thousand), where DynamoDB's costs the same at any size.
That made every test and benchmark pay for the tables' history, and made a transaction look several times dearer than
the PutItem it wraps.

Here the transaction still runs through moto's own code (its conditions, its checks, its error reasons); only the
backup changes. The items it names are copied first (one item each, whatever the table holds), the tables are not,
and a cancelled transaction puts those items back, or removes the ones it created. That is the same all-or-nothing
result: a transaction can only change the items it names.

It relies on moto seeing one DynamoDB request at a time, which `devtools.moto_server` guarantees, since the copy
switch below is global for the length of one transaction.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_stock_transact_write_items = DynamoDBBackend.transact_write_items

ItemKey = tuple[Table, DynamoType, DynamoType | None]


def _named_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[ItemKey]:
    """The (table, hash, range) of each item the transaction names, for tables that exist."""
    named = []
    for entry in transact_items:
        for operation, request in entry.items():
            table = backend.tables.get(request.get("TableName"))
            if table is None:
                continue
            key = request.get("Item") if operation == "Put" else request.get("Key")
            parts = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            if not key or any(part not in key for part in parts):
                continue  # moto refuses it with its own reason
            range_key = key[table.range_key_attr] if table.range_key_attr else None
            named.append((table, DynamoType(key[table.hash_key_attr]),
                          DynamoType(range_key) if range_key is not None else None))
    return named


def _put_back(table: Table, hash_key: DynamoType, range_key: DynamoType | None, before) -> None:
    if before is None:
        table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = before
    else:
        table.items[hash_key] = before


def _tables_not_copied(self: Table, memo: dict) -> Table:
    return self


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    named = _named_items(self, transact_items)
    before = [copy.deepcopy(table.get_item(hash_key, range_key)) for table, hash_key, range_key in named]
    Table.__deepcopy__ = _tables_not_copied  # moto's own table backup becomes the table itself: a no-op rollback
    try:
        _stock_transact_write_items(self, transact_items)
    except Exception:
        for (table, hash_key, range_key), item in reversed(list(zip(named, before, strict=True))):
            _put_back(table, hash_key, range_key, item)
        raise
    finally:
        del Table.__deepcopy__


def install() -> None:
    DynamoDBBackend.transact_write_items = transact_write_items
