"""The dev moto server's item-by-item transaction rollback keeps DynamoDB's all-or-nothing result.

Our conditional writes, race tests and money model all rest on it: a cancelled transaction must leave every item it
named as it was, including the ones it had already written before the failing condition, and must not create any.
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from devtools import moto_transactions


def _table(db, *, range_key: bool = False) -> str:
    name = f"stand-in-{uuid.uuid4().hex[:8]}"
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "S"})
    db.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST")
    return name


def _everything(db, table: str) -> list[dict]:
    return sorted(db.scan(TableName=table, ConsistentRead=True)["Items"], key=str)


def _cancelled(db, items: list[dict]) -> list[str]:
    with pytest.raises(ClientError) as raised:
        db.transact_write_items(TransactItems=items)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    return [reason["Code"] for reason in raised.value.response["CancellationReasons"]]


def test_a_cancelled_transaction_leaves_every_named_item_as_it_was(db):
    accounts, entries = _table(db), _table(db, range_key=True)
    db.put_item(TableName=accounts, Item={"pk": {"S": "a1"}, "balance": {"N": "10"}})
    db.put_item(TableName=accounts, Item={"pk": {"S": "a2"}, "balance": {"N": "5"}})
    db.put_item(TableName=entries, Item={"pk": {"S": "a1"}, "sk": {"S": "e1"}, "amount": {"N": "10"}})
    before = (_everything(db, accounts), _everything(db, entries))

    reasons = _cancelled(db, [
        {"Update": {"TableName": accounts, "Key": {"pk": {"S": "a1"}}, "UpdateExpression": "SET balance = :zero",
                    "ExpressionAttributeValues": {":zero": {"N": "0"}}}},
        {"Put": {"TableName": entries, "Item": {"pk": {"S": "a1"}, "sk": {"S": "e2"}, "amount": {"N": "-10"}}}},
        {"Delete": {"TableName": entries, "Key": {"pk": {"S": "a1"}, "sk": {"S": "e1"}}}},
        {"Put": {"TableName": accounts, "Item": {"pk": {"S": "a3"}}}},
        {"ConditionCheck": {"TableName": accounts, "Key": {"pk": {"S": "a2"}},
                            "ConditionExpression": "balance > :ten",
                            "ExpressionAttributeValues": {":ten": {"N": "10"}}}},
    ])

    assert reasons == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert (_everything(db, accounts), _everything(db, entries)) == before


def test_a_transaction_naming_one_item_twice_changes_nothing(db):
    table = _table(db)
    db.put_item(TableName=table, Item={"pk": {"S": "x"}, "n": {"N": "1"}})

    with pytest.raises(ClientError) as raised:
        db.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "x"}}, "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "x"}, "n": {"N": "3"}}}},
        ])

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _everything(db, table) == [{"pk": {"S": "x"}, "n": {"N": "1"}}]


def test_a_committed_transaction_writes_all_of_it(db):
    table = _table(db)
    db.put_item(TableName=table, Item={"pk": {"S": "x"}, "n": {"N": "1"}})

    db.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": {"pk": {"S": "x"}}, "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "y"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
    ])

    assert _everything(db, table) == sorted([{"pk": {"S": "x"}, "n": {"N": "2"}}, {"pk": {"S": "y"}}], key=str)


def test_tables_are_not_copied_to_roll_back(monkeypatch):
    """The point of the change: stock moto replaces each named table with a deep copy taken before the transaction."""
    from moto.dynamodb.models import DynamoDBBackend

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", moto_transactions.transact_write_items)
    backend = DynamoDBBackend("us-east-1", "123456789012")
    table = backend.create_table("t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}], throughput=None,
                                 attr=[{"AttributeName": "pk", "AttributeType": "S"}], global_indexes=None,
                                 indexes=None, streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None,
                                 tags=[], deletion_protection_enabled=None, warm_throughput=None)
    backend.put_item("t", {"pk": {"S": "kept"}})

    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        backend.transact_write_items([
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "kept"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    assert backend.tables["t"] is table
    assert backend.get_item("t", {"pk": {"S": "new"}}) is None
    assert backend.get_item("t", {"pk": {"S": "kept"}}) is not None
    assert not hasattr(moto_transactions.Table, "__deepcopy__")
