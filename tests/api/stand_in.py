"""What the tests of the dev moto server's corrections share: a plain DynamoDB client and a table keyed on `pk`."""

from __future__ import annotations

import uuid

import boto3


def dynamodb(url: str):
    return boto3.session.Session().client("dynamodb", endpoint_url=url)


def keyed_table(db, prefix: str) -> str:
    """A new on-demand table keyed on the string `pk` alone; its name starts with `prefix`."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    db.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
    return name
