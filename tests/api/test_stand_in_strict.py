"""The dev moto server refuses what DynamoDB refuses and moto would let through (devtools.moto_strict), with
DynamoDB's code and message, and still accepts what DynamoDB accepts, at each limit's edge.

What DynamoDB documents, as each case relies on it (Amazon DynamoDB Developer Guide and API Reference):
- "Value provided in ExpressionAttributeValues unused in expressions": every substitution given must be used;
- expression parameters: "The maximum length of any expression string is 4 KB" (4096 bytes accepted, 4097 not);
- Query: "A filter expression cannot contain partition key or sort key attributes";
- numbers: "Numbers can have up to 38 digits of precision. Exceeding this results in an exception", with leading
  and trailing zeroes trimmed (so 1E+40 holds one significant digit);
- a secondary index's key attribute written must be of the type its AttributeDefinitions give;
- BatchWriteItem: "The BatchWriteItem operation puts or deletes multiple items ... up to 25 put or delete requests".
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from devtools import moto_strict


@pytest.fixture(scope="module")
def table(db) -> str:
    """Keyed on pk, with an index on (gpk, gsk)."""
    name = f"strict-{uuid.uuid4().hex[:8]}"
    db.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "gpk", "gsk")],
        GlobalSecondaryIndexes=[{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"},
                                               {"AttributeName": "gsk", "KeyType": "RANGE"}]}],
        BillingMode="PAY_PER_REQUEST")
    db.put_item(TableName=name, Item={"pk": {"S": "one"}, "gpk": {"S": "g"}, "gsk": {"S": "1"}, "n": {"N": "1"}})
    return name


def _refused(call, **request) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**request)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def _put(table: str, **extra) -> dict:
    return {"TableName": table, "Item": {"pk": {"S": f"p-{uuid.uuid4().hex}"}}, **extra}


def _query(table: str, index: bool = False, **extra) -> dict:
    if index:
        return {"TableName": table, "IndexName": "by_g", "KeyConditionExpression": "gpk = :g",
                "ExpressionAttributeValues": {":g": {"S": "g"}, **extra.pop("values", {})}, **extra}
    return {"TableName": table, "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "one"}, **extra.pop("values", {})}, **extra}


def test_an_unused_value_is_refused_wherever_moto_let_it_through(db, table):
    unused = {":spare": {"S": "x"}}
    message = "Value provided in ExpressionAttributeValues unused in expressions: keys: {:spare}"
    assert _refused(db.put_item, **_put(table, ConditionExpression="attribute_not_exists(pk)",
                                        ExpressionAttributeValues=unused)) == ("ValidationException", message)
    assert _refused(db.delete_item, TableName=table, Key={"pk": {"S": "none"}}, ConditionExpression="n = :one",
                    ExpressionAttributeValues={":one": {"N": "1"}, **unused}) == ("ValidationException", message)
    assert _refused(db.query, **_query(table, values=unused)) == ("ValidationException", message)
    check = {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "one"}}, "ConditionExpression": "n = :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}, **unused}}}
    assert _refused(db.transact_write_items, TransactItems=[check]) == ("ValidationException", message)


def test_an_unused_name_is_refused_in_a_delete(db, table):
    assert _refused(db.delete_item, TableName=table, Key={"pk": {"S": "none"}},
                    ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames={"#spare": "n"}) == (
        "ValidationException", "Value provided in ExpressionAttributeNames unused in expressions: keys: {#spare}")


def _padded(expression: str, size: int) -> str:
    return expression + " " * (size - len(expression))


def test_an_expression_is_at_most_4_kb(db, table):
    db.put_item(**_put(table, ConditionExpression=_padded("attribute_not_exists(pk)", 4096)))
    assert _refused(db.put_item, **_put(table, ConditionExpression=_padded("attribute_not_exists(pk)", 4097))) == (
        "ValidationException",
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097")
    assert _refused(db.query, **_query(table, FilterExpression=_padded("n = :one", 4097),
                                       values={":one": {"N": "1"}}))[1].startswith("Invalid FilterExpression: ")


@pytest.mark.parametrize("index, filter_expression, names, key", [
    (False, "pk = :x", {}, "pk"),
    (False, "attribute_exists(#k) AND n = :x", {"#k": "pk"}, "pk"),
    (True, "gsk = :x", {}, "gsk"),
    (True, "NOT begins_with(#g, :x)", {"#g": "gpk"}, "gpk"),
])
def test_a_filter_may_not_name_a_key_of_what_is_queried(db, table, index, filter_expression, names, key):
    request = _query(table, index, FilterExpression=filter_expression, values={":x": {"S": "1"}},
                     **({"ExpressionAttributeNames": names} if names else {}))
    assert _refused(db.query, **request) == (
        "ValidationException",
        f"Filter Expression can only contain non-primary key attributes: Primary key attribute: {key}")


@pytest.mark.parametrize("index, filter_expression, names", [
    (False, "gsk = :x", {}),  # another index's key
    (False, "m.pk = :x AND size(n) > :n", {}),  # a map's member named as the key is not the key
    (True, "n > :n AND #m.#k = :x", {"#m": "m", "#k": "gpk"}),
])
def test_a_filter_naming_other_attributes_is_accepted(db, table, index, filter_expression, names):
    values = {":x": {"S": "1"}, ":n": {"N": "0"}}
    values = {name: value for name, value in values.items() if name in filter_expression}
    db.query(**_query(table, index, FilterExpression=filter_expression, values=values,
                      **({"ExpressionAttributeNames": names} if names else {})))


@pytest.mark.parametrize("number, digits", [("0", 0), ("-0012.3400", 4), ("1E+40", 1), ("1.50e-7", 2),
                                            ("9" * 38, 38), ("1" + "0" * 37 + ".5", 39)])
def test_significant_digits_are_counted_with_zeroes_trimmed(number, digits):
    assert moto_strict.significant_digits(number) == digits


def test_a_number_holds_at_most_38_significant_digits(db, table):
    db.put_item(TableName=table, Item={"pk": {"S": "digits"}, "n": {"N": "9" * 38}, "big": {"N": "1" + "0" * 40}})
    message = ("ValidationException", "Attempting to store more than 38 significant digits in a Number")
    assert _refused(db.put_item, TableName=table, Item={"pk": {"S": "digits"}, "n": {"N": "1" * 39}}) == message
    nested = {"pk": {"S": "digits"}, "m": {"M": {"l": {"L": [{"NS": ["1", "0." + "1" * 39]}]}}}}
    assert _refused(db.put_item, TableName=table, Item=nested) == message
    update = {"Update": {"TableName": table, "Key": {"pk": {"S": "digits"}}, "UpdateExpression": "SET n = :n",
                         "ExpressionAttributeValues": {":n": {"N": "1" * 39}}}}
    assert _refused(db.transact_write_items, TransactItems=[update]) == message


def test_an_index_key_of_another_type_is_refused(db, table):
    item = {"pk": {"S": "typed"}, "gpk": {"N": "1"}, "gsk": {"S": "1"}}
    assert _refused(db.put_item, TableName=table, Item=item) == (
        "ValidationException", "One or more parameter values were invalid: Type mismatch for Index Key gpk "
                               "Expected: S Actual: N IndexName: by_g")
    assert _refused(db.transact_write_items, TransactItems=[{"Put": {"TableName": table, "Item": item}}])[0] == \
        "ValidationException"


def test_what_our_adapter_sends_is_accepted(db, table):
    """The shapes PynamoDB writes: every placeholder used, index keys as strings, conditions on the table key."""
    item = {"pk": {"S": "ours"}, "gpk": {"S": "g"}, "gsk": {"S": "2"}, "version": {"N": "1"}}
    db.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists (#0)",
                ExpressionAttributeNames={"#0": "pk"})
    db.transact_write_items(TransactItems=[{"Update": {
        "TableName": table, "Key": {"pk": {"S": "ours"}}, "ConditionExpression": "#0 = :0",
        "UpdateExpression": "SET #1 = if_not_exists (#1, :1) + :2 ADD #0 :3",
        "ExpressionAttributeNames": {"#0": "version", "#1": "count"},
        "ExpressionAttributeValues": {":0": {"N": "1"}, ":1": {"N": "0"}, ":2": {"N": "5"}, ":3": {"N": "1"}}}}])
    found = db.query(**_query(table, True, FilterExpression="contains (#0, :0)", values={":0": {"S": "x"}},
                              ExpressionAttributeNames={"#0": "tags"}, ScanIndexForward=False, Limit=5))
    assert found["Count"] == 0


def test_a_batch_write_holds_at_most_25_requests(db, table):
    def batch(count: int) -> dict:
        return {table: [{"PutRequest": {"Item": {"pk": {"S": f"batch-{n}"}}}} for n in range(count)]}

    db.batch_write_item(RequestItems=batch(25))
    assert _refused(db.batch_write_item, RequestItems=batch(26)) == (
        "ValidationException", "Too many items requested for the BatchWriteItem call")


HASH_TOO_LONG = ("ValidationException", "One or more parameter values were invalid: Size of hashkey has exceeded "
                                        "the maximum size limit of2048 bytes")


def test_a_key_read_updated_or_deleted_is_at_most_2048_bytes(db, table):
    """DynamoDB refuses an oversized key on every request naming one, reads included (moto: on puts alone).
    Counted in UTF-8 bytes: 1024 two-byte characters are 2048 bytes."""
    fits, too_long = {"pk": {"S": "é" * 1024}}, {"pk": {"S": "é" * 1024 + "x"}}
    db.get_item(TableName=table, Key=fits)
    db.batch_get_item(RequestItems={table: {"Keys": [fits]}})
    db.query(TableName=table, KeyConditionExpression="#k = :k", ExpressionAttributeNames={"#k": "pk"},
             ExpressionAttributeValues={":k": fits["pk"]})
    assert _refused(db.get_item, TableName=table, Key=too_long) == HASH_TOO_LONG
    assert _refused(db.batch_get_item, RequestItems={table: {"Keys": [{"pk": {"S": "one"}}, too_long]}}) == \
        HASH_TOO_LONG
    assert _refused(db.delete_item, TableName=table, Key=too_long) == HASH_TOO_LONG
    assert _refused(db.update_item, TableName=table, Key=too_long, UpdateExpression="SET n = :n",
                    ExpressionAttributeValues={":n": {"N": "1"}}) == HASH_TOO_LONG
    assert _refused(db.transact_write_items, TransactItems=[{"ConditionCheck": {
        "TableName": table, "Key": too_long, "ConditionExpression": "attribute_exists(pk)"}}]) == HASH_TOO_LONG
    assert _refused(db.query, TableName=table, KeyConditionExpression=":k = pk",
                    ExpressionAttributeValues={":k": too_long["pk"]}) == HASH_TOO_LONG
    assert _refused(db.query, TableName=table, IndexName="by_g", KeyConditionExpression="gpk = :k",
                    ExpressionAttributeValues={":k": too_long["pk"]}) == HASH_TOO_LONG


def test_an_empty_key_is_refused_in_a_batch_read(db, table):
    assert _refused(db.batch_get_item, RequestItems={table: {"Keys": [{"pk": {"S": ""}}]}}) == (
        "ValidationException", "One or more parameter values are not valid. The AttributeValue for a key attribute "
                               "cannot contain an empty string value. Key: pk")


def test_a_sort_key_is_at_most_1024_bytes(db):
    name = f"strict-sorted-{uuid.uuid4().hex[:8]}"
    db.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}])
    db.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "s" * 1024}})
    assert _refused(db.get_item, TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "s" * 1025}}) == (
        "ValidationException", "One or more parameter values were invalid: Aggregated size of all range keys has "
                               "exceeded the size limit of 1024 bytes")
