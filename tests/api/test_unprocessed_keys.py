"""A BatchGetItem DynamoDB answers in part (UnprocessedKeys, under load: moto never does) is asked again for the rest,
strongly consistent still, and a database that stays busy is a 503 rather than records silently missing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.adapters import dynamo
from chalicelib.core import errors
from chalicelib.core.model import Account
from chalicelib.repository import Ref


@pytest.fixture
def accounts(chalice_app):
    repo = dynamo.DynamoRepository()
    now = datetime.now(UTC)
    stored = [Account(id=f"acct_unprocessed{uuid.uuid4().hex[:12]}", role="client", name=f"n{n}",
                      email="u@example.com", created_at=now) for n in range(3)]
    repo.commit(created=stored)
    return repo, stored


def _holding_back(monkeypatch, answers_held: int | None, answering: int = 1) -> list[dict]:
    """The connection's BatchGetItem answers held back, as DynamoDB's under load: all but the first `answering` keys
    of each request go unprocessed, `answers_held` times (None: every time). Returns the requests sent."""
    connection = dynamo._connection()
    stock_dispatch = connection.dispatch
    sent: list[dict] = []

    def dispatch(operation, kwargs):
        if operation != "BatchGetItem":
            return stock_dispatch(operation, kwargs)
        sent.append(kwargs)
        if answers_held is not None and len(sent) > answers_held:
            return stock_dispatch(operation, kwargs)
        (table, asked), = kwargs["RequestItems"].items()
        first, rest = asked["Keys"][:answering], asked["Keys"][answering:]
        answered = stock_dispatch(operation, {"RequestItems": {table: {**asked, "Keys": first}}}) if first else {}
        answered["UnprocessedKeys"] = {table: {**asked, "Keys": rest}} if rest else {}
        return answered

    monkeypatch.setattr(connection, "dispatch", dispatch)
    monkeypatch.setattr(dynamo.time, "sleep", lambda seconds: None)
    return sent


def test_unprocessed_keys_are_read_again(accounts, monkeypatch):
    repo, stored = accounts
    sent = _holding_back(monkeypatch, answers_held=2)
    found = repo.get_many([Ref(Account, account.id) for account in stored])
    assert [account.id for account in found] == [account.id for account in stored]
    table = dynamo.m.AccountModel.Meta.table_name
    assert [len(request["RequestItems"][table]["Keys"]) for request in sent] == [3, 2, 1]
    assert all(asked["ConsistentRead"] for request in sent for asked in request["RequestItems"].values())


def test_a_database_that_stays_busy_is_a_503(accounts, monkeypatch):
    repo, stored = accounts
    sent = _holding_back(monkeypatch, answers_held=None, answering=0)
    with pytest.raises(errors.ServiceUnavailable):
        repo.get_many([Ref(Account, account.id) for account in stored])
    assert len(sent) == dynamo.UNPROCESSED_ATTEMPTS + 1
