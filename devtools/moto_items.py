"""moto's DynamoDB items, built with one size check rather than one per attribute.

moto checks DynamoDB's 400 KB item limit as an item is built, attribute by attribute, and each check sums the size
of every attribute set so far: building an item of n attributes sizes about n²/2 values, nested maps and lists
walked every time. A 40-attribute item took over a millisecond to store, every write and every transaction member
paying it again, so on moto a write cost in proportion to the square of the attributes it stores. DynamoDB's write
latency does not grow with an item's attribute count.

Here an item is sized once, as a whole, against the same limit moto uses; an item past it is refused with moto's
own error, as before. Later changes to a stored item (update expressions) still go through moto's per-attribute
check.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

# moto's own limit (dynamo_type.LimitedSizeDict): DynamoDB's 400 KB, measured to fall between 409 and 410 KB.
ITEM_SIZE_LIMIT = 405_000
STOCK_INIT = Item.__init__


def _built_item(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    values = {name: DynamoType(value) for name, value in attrs.items()}
    if sum(bytesize(name) + value.size() for name, value in values.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, values)  # sized above, as a whole: LimitedSizeDict's per-key check would size it again


def install() -> None:
    assert dynamo_type.Item is Item and Item.__init__ in (STOCK_INIT, _built_item)
    Item.__init__ = _built_item
