"""The dev moto server stores items as stock moto does and refuses the same oversized ones, sizing each item once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from devtools import moto_items
from tests.api.stand_in import dynamodb, keyed_table

LIMIT = moto_items.ITEM_SIZE_LIMIT


@pytest.fixture(scope="module")
def table(moto_server):
    db = dynamodb(moto_server.url)
    name = keyed_table(db, "items")
    return db, name


def _item_of_size(size: int) -> dict:
    """An item whose size, as moto counts it (names and values in bytes), is exactly `size`."""
    fixed = len("pk") + len("one") + len("text")
    return {"pk": {"S": "one"}, "text": {"S": "x" * (size - fixed)}}


@pytest.mark.parametrize("size, refused", [(LIMIT, False), (LIMIT + 1, True)])
def test_the_size_limit_is_moto_s(table, size, refused):
    db, name = table
    item = _item_of_size(size)
    if refused:
        with pytest.raises(ClientError) as error:
            db.put_item(TableName=name, Item=item)
        assert error.value.response["Error"]["Code"] == "ValidationException"
        assert "Item size has exceeded the maximum allowed size" in error.value.response["Error"]["Message"]
        with pytest.raises(ClientError):
            db.transact_write_items(TransactItems=[{"Put": {"TableName": name, "Item": item}}])
    else:
        db.put_item(TableName=name, Item=item)
        assert db.get_item(TableName=name, Key={"pk": item["pk"]}, ConsistentRead=True)["Item"] == item


def test_an_item_is_built_as_stock_moto_builds_it():
    attrs = {"count": {"N": "3"}, "names": {"SS": ["a"]}, "nested": {"M": {"list": {"L": [{"S": "x"}]}}}}
    key = DynamoType({"S": "k"})
    stock = Item.__new__(Item)
    stock_init = Item.__init__
    Item.__init__ = moto_items.STOCK_INIT
    try:
        stock.__init__(key, None, attrs)
    finally:
        Item.__init__ = stock_init
    built = Item.__new__(Item)
    moto_items._built_item(built, key, None, attrs)
    assert (built.hash_key, built.range_key, type(built.attrs)) == (stock.hash_key, stock.range_key, type(stock.attrs))
    assert built.attrs == stock.attrs
    assert built.to_json() == stock.to_json()


def test_an_item_is_sized_once_whatever_its_attribute_count(monkeypatch):
    """Counted rather than timed: building an item sizes each of its values once (moto sized all before each)."""
    sized = []
    stock_size = DynamoType.size
    monkeypatch.setattr(DynamoType, "size", lambda value: sized.append(value) or stock_size(value))
    for attributes in (10, 100):
        sized.clear()
        item = Item.__new__(Item)
        moto_items._built_item(item, DynamoType({"S": "k"}), None,
                               {f"a{n}": {"S": "v"} for n in range(attributes)})
        assert len(sized) == attributes
