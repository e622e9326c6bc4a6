"""The dev moto server keeps no item or message past its use (`devtools.moto_untracked`).

Stock moto listed every model object it ever made, for its dashboard, so a long `make run` grew without bound. The
list is what held them: the server is asked for it after a busy round of the calls the app makes. How much memory
the server takes is not measured here (it would depend on the machine); bench/moto_memory.py shows it over time.
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from devtools.moto_untracked import RecentHandles


@pytest.fixture(scope="module")
def clients(moto_server):
    session = boto3.session.Session()
    return (session.client("dynamodb", endpoint_url=moto_server.url),
            session.client("sqs", endpoint_url=moto_server.url))


def _listed_by_moto(url: str) -> dict[str, dict[str, list]]:
    """Every model object moto's class lists hold, by service and model (every model named, listed or not)."""
    with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=30) as answer:
        return json.loads(answer.read())


def test_items_and_messages_are_not_kept_after_the_requests_that_made_them(moto_server, clients):
    db, sqs = clients
    table = f"memory-{uuid.uuid4().hex[:8]}"
    db.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
    for n in range(5):
        key = {"pk": {"S": f"item-{n}"}}
        db.put_item(TableName=table, Item={**key, "count": {"N": "0"}})
        db.update_item(TableName=table, Key=key, UpdateExpression="SET #c = #c + :one",
                       ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":one": {"N": "1"}})
        db.get_item(TableName=table, Key=key)
        with pytest.raises(ClientError):  # a cancelled transaction: moto copies the items to roll back
            db.transact_write_items(TransactItems=[
                {"Update": {"TableName": table, "Key": key, "UpdateExpression": "SET #c = :z",
                            "ExpressionAttributeNames": {"#c": "count"},
                            "ExpressionAttributeValues": {":z": {"N": "9"}}}},
                {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "missing"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}])
    assert db.scan(TableName=table)["Count"] == 5
    queue = sqs.create_queue(QueueName=f"memory-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    received = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=received["ReceiptHandle"])

    listed = _listed_by_moto(moto_server.url)
    assert listed["dynamodb"]["Item"] == [] and listed["sqs"]["Message"] == []


def test_a_message_deleted_again_is_still_deleted_as_on_sqs(clients):
    _, sqs = clients
    queue = sqs.create_queue(QueueName=f"again-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    handle = sqs.receive_message(QueueUrl=queue)["Messages"][0]["ReceiptHandle"]

    sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)  # a worker's retry after a lost answer

    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=queue, ReceiptHandle="never-given")


def test_deleted_receipt_handles_are_remembered_up_to_the_limit_newest_first():
    handles = RecentHandles(limit=3)
    handles.update(["a", "b", "c"])
    handles.add("a")  # deleted again: now the newest
    handles.update(["d", "e"])

    assert list(handles) == ["a", "d", "e"]
    assert "b" not in handles and "c" not in handles
