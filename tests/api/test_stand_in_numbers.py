"""The dev moto server answers numbers as DynamoDB does, leading and trailing zeroes trimmed and exponents written
out (devtools.moto_numbers; Developer Guide, data types: "Leading and trailing zeroes are trimmed"), and still
refuses what is no number."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from devtools.moto_numbers import canonical
from tests.api.stand_in import keyed_table


@pytest.fixture(scope="module")
def table(db) -> str:
    return keyed_table(db, "numbers")


@pytest.mark.parametrize("sent, stored", [
    ("1.0", "1"), ("00042", "42"), ("-0", "0"), ("1.5E2", "150"), ("0.000010", "0.00001"), ("-12.340", "-12.34"),
    ("1e+20", "100000000000000000000"), ("100", "100"), ("9" * 38, "9" * 38), ("0.0", "0"),
])
def test_a_number_is_answered_in_canonical_form(db, table, sent, stored):
    key = {"pk": {"S": uuid.uuid4().hex}}
    db.put_item(TableName=table, Item={**key, "n": {"N": sent}, "m": {"M": {"l": {"L": [{"N": sent}]}}}})
    item = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": stored} and item["m"]["M"]["l"]["L"] == [{"N": stored}]
    assert canonical(sent) == stored


def test_arithmetic_answers_in_canonical_form(db, table):
    key = {"pk": {"S": uuid.uuid4().hex}}
    db.put_item(TableName=table, Item={**key, "n": {"N": "1.5"}, "big": {"N": "1e+20"}})
    answer = db.update_item(TableName=table, Key=key, UpdateExpression="SET n = n + :half ADD big :one",
                            ExpressionAttributeValues={":half": {"N": "0.5"}, ":one": {"N": "1"}},
                            ReturnValues="ALL_NEW")["Attributes"]
    assert answer["n"] == {"N": "2"} and answer["big"] == {"N": "100000000000000000001"}


def test_a_number_set_is_answered_in_canonical_form(db, table):
    key = {"pk": {"S": uuid.uuid4().hex}}
    db.put_item(TableName=table, Item={**key, "ns": {"NS": ["1.0", "020"]}})
    assert sorted(db.get_item(TableName=table, Key=key)["Item"]["ns"]["NS"]) == ["1", "20"]


@pytest.mark.parametrize("not_a_number", ["abc", " 1", "NaN", "Infinity"])
def test_what_is_no_number_is_still_refused(db, table, not_a_number):
    with pytest.raises(ClientError) as raised:
        db.put_item(TableName=table, Item={"pk": {"S": "x"}, "n": {"N": not_a_number}})
    assert raised.value.response["Error"]["Code"] == "ValidationException"
