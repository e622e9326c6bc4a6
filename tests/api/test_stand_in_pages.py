"""The dev moto server's Query says where it stopped whenever it stopped at its Limit, as DynamoDB's does
(devtools.moto_pages; API Reference, Query: Limit and LastEvaluatedKey), and only then."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="module")
def table(db) -> str:
    """Partition "p" holds items s1..s3 (n = their number), also under the index by_g (g = "g", s)."""
    name = f"pages-{uuid.uuid4().hex[:8]}"
    db.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "g")],
        GlobalSecondaryIndexes=[{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                               {"AttributeName": "sk", "KeyType": "RANGE"}]}])
    for n in (1, 2, 3):
        db.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": f"s{n}"}, "g": {"S": "g"},
                                          "n": {"N": str(n)}})
    return name


def _query(db, table: str, limit: int, **extra) -> dict:
    return db.query(TableName=table, KeyConditionExpression="pk = :p", Limit=limit,
                    ExpressionAttributeValues={":p": {"S": "p"}, **extra.pop("values", {})}, **extra)


def test_a_query_stopped_at_its_limit_with_nothing_left_says_where(db, table):
    read = _query(db, table, 3)
    assert read["Count"] == 3 and read["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"S": "s3"}}
    after = _query(db, table, 3, ExclusiveStartKey=read["LastEvaluatedKey"])
    assert after["Count"] == 0 and "LastEvaluatedKey" not in after


def test_a_query_ending_before_its_limit_gives_no_key(db, table):
    assert "LastEvaluatedKey" not in _query(db, table, 4)


def test_a_query_stopped_before_more_items_is_as_stock_moto_answers_it(db, table):
    read = _query(db, table, 2)
    assert read["Count"] == 2 and read["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"S": "s2"}}


def test_the_key_is_the_last_item_read_whatever_the_filter_and_projection_kept(db, table):
    read = _query(db, table, 3, FilterExpression="n < :two", ProjectionExpression="n",
                  values={":two": {"N": "2"}})
    assert read["Items"] == [{"n": {"N": "1"}}] and read["ScannedCount"] == 3
    assert read["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"S": "s3"}}


def test_an_index_query_s_key_holds_the_index_key_and_the_table_key(db, table):
    read = db.query(TableName=table, IndexName="by_g", KeyConditionExpression="g = :g", Limit=3,
                    ScanIndexForward=False, ExpressionAttributeValues={":g": {"S": "g"}})
    assert [item["sk"]["S"] for item in read["Items"]] == ["s3", "s2", "s1"]
    assert read["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"S": "s1"}, "g": {"S": "g"}}
