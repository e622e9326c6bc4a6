"""The dev moto server answers a transaction's repeat with its client token as DynamoDB documents it
(devtools.moto_tokens; API Reference, TransactWriteItems, ClientRequestToken): "multiple identical calls have the
same effect as one single call", and "If you submit a request with the same client token but a change in other
parameters within the 10-minute idempotency window, DynamoDB returns an IdempotentParameterMismatch exception"."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.api.stand_in import keyed_table


@pytest.fixture(scope="module")
def table(db) -> str:
    return keyed_table(db, "tokens")


def _versioned_write(table: str, key: str, version: int) -> list[dict]:
    """A write that holds only while the item is at `version`, moving it on."""
    return [{"Update": {"TableName": table, "Key": {"pk": {"S": key}}, "UpdateExpression": "SET v = :next",
                        "ConditionExpression": "attribute_not_exists(v) OR v = :now",
                        "ExpressionAttributeValues": {":now": {"N": str(version)}, ":next": {"N": str(version + 1)}}}}]


def _version(db, table: str, key: str) -> int:
    return int(db.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]["v"]["N"])


def test_a_repeat_of_a_made_transaction_succeeds_without_changing_anything(db, table):
    key, token = uuid.uuid4().hex, uuid.uuid4().hex
    db.transact_write_items(TransactItems=_versioned_write(table, key, 0), ClientRequestToken=token)
    db.transact_write_items(TransactItems=_versioned_write(table, key, 0), ClientRequestToken=token)
    assert _version(db, table, key) == 1
    with pytest.raises(ClientError) as raised:  # without the token it is a new request, whose condition fails
        db.transact_write_items(TransactItems=_versioned_write(table, key, 0))
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_the_token_with_other_parameters_is_refused(db, table):
    key, token = uuid.uuid4().hex, uuid.uuid4().hex
    db.transact_write_items(TransactItems=_versioned_write(table, key, 0), ClientRequestToken=token)
    with pytest.raises(ClientError) as raised:
        db.transact_write_items(TransactItems=_versioned_write(table, key, 1), ClientRequestToken=token)
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _version(db, table, key) == 1


def test_a_cancelled_transaction_is_not_remembered(db, table):
    """What DynamoDB answers to the repeat of a cancelled transaction is not documented: it runs again."""
    key, token = uuid.uuid4().hex, uuid.uuid4().hex
    db.put_item(TableName=table, Item={"pk": {"S": key}, "v": {"N": "5"}})
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            db.transact_write_items(TransactItems=_versioned_write(table, key, 0), ClientRequestToken=token)
        assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    db.transact_write_items(TransactItems=_versioned_write(table, key, 5), ClientRequestToken=uuid.uuid4().hex)
    assert _version(db, table, key) == 6


def test_a_token_is_at_most_36_characters(db, table):
    """The service model's limit on ClientRequestToken (botocore checks only the least); ours are 32. A uuid
    written out with its dashes is 36."""
    def write(token: str) -> None:
        db.transact_write_items(TransactItems=_versioned_write(table, uuid.uuid4().hex, 0), ClientRequestToken=token)

    write(str(uuid.uuid4()))
    with pytest.raises(ClientError) as raised:
        write(str(uuid.uuid4()) + "x")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 36" in raised.value.response["Error"]["Message"]
