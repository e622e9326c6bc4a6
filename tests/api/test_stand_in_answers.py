"""The dev moto server answers items exactly as stock moto would, only without rebuilding them value by value."""

from __future__ import annotations

import base64
import json

import pytest
from moto.core.serialize import BaseJSONSerializer

from devtools import moto_answers
from tests.api.stand_in import dynamodb, keyed_table

EVERY_KIND = {
    "pk": {"S": "item"}, "count": {"N": "-12.50"}, "flag": {"BOOL": False}, "nothing": {"NULL": True},
    "names": {"SS": ["a", "b"]}, "numbers": {"NS": ["1", "2.5"]},
    "nested": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": True}}}, {"L": []}]},
                     "empty": {"M": {}}, "text": {"S": "é ✓ \" \\"}}},
}
WITH_BINARY = {**EVERY_KIND, "pk": {"S": "binary"}, "blob": {"B": b"\x00\xffraw"}, "blobs": {"BS": [b"1", b"2"]},
               "inside": {"M": {"blob": {"B": b"\x01"}}}}


@pytest.fixture(scope="module")
def table(moto_server):
    db = dynamodb(moto_server.url)
    name = keyed_table(db, "answers")
    for item in (EVERY_KIND, WITH_BINARY):
        db.put_item(TableName=name, Item=item)
    return db, name


@pytest.mark.parametrize("item", [EVERY_KIND, WITH_BINARY], ids=["every kind", "with binary"])
def test_every_read_answers_the_item_as_written(table, item):
    db, name = table
    key = {"pk": item["pk"]}

    got = db.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
    batch = db.batch_get_item(RequestItems={name: {"Keys": [key]}})["Responses"][name]
    queried = db.query(TableName=name, KeyConditionExpression="pk = :k",
                       ExpressionAttributeValues={":k": item["pk"]})["Items"]
    transacted = db.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": key}}])["Responses"]
    updated = db.update_item(TableName=name, Key=key, UpdateExpression="SET flag = :f",
                             ExpressionAttributeValues={":f": item["flag"]}, ReturnValues="ALL_NEW")["Attributes"]

    as_written = {**item, "count": {"N": "-12.5"}}  # a number's trailing zeroes trimmed, as DynamoDB answers it
    assert got == batch[0] == queried[0] == transacted[0]["Item"] == updated == as_written


def test_the_shortcut_gives_what_moto_s_own_serializer_gives():
    """The same answer through stock moto and through the shortcut, for every kind of value but binary (which
    the shortcut leaves to moto)."""
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoResult

    def answer() -> str:
        service = get_service_model("dynamodb")
        serializer = get_serializer_class("dynamodb", "json")(service.operation_model("GetItem"),
                                                               value_picker=XFormedAttributePicker())
        body = serializer.serialize(DynamoResult({"Item": EVERY_KIND}).result)["body"]
        assert json.loads(body) == {"Item": EVERY_KIND}  # what moto's server answers a GetItem with
        return body

    stock = answer()
    BaseJSONSerializer._serialize_type_structure, saved = (moto_answers._serialize_structure,
                                                           BaseJSONSerializer._serialize_type_structure)
    try:
        shortcut = answer()
    finally:
        BaseJSONSerializer._serialize_type_structure = saved
    assert shortcut == stock


@pytest.mark.parametrize("value, passed", [
    ({"S": "x"}, True), ({"M": {"a": {"L": [{"N": "1"}]}}}, True), ({"B": base64.b64encode(b"x").decode()}, False),
    ({"L": [{"BS": []}]}, False), ({"S": "x", "N": "1"}, False), ("x", False), ({"X": "?"}, False),
])
def test_only_plain_attribute_values_are_passed_through(value, passed):
    assert moto_answers._as_sent(value) is passed
