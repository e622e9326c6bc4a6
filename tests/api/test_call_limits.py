"""Every DynamoDB and SQS client of the app carries the call limits of chalicelib.config.aws_call_limits: a request
that hangs is given up after the read timeout and tried again, instead of waiting out the SDK's 30 or 60 s.

A fault proxy in front of moto holds the first request (then forwards it, too late); the call still succeeds, on
its second try. No time is asserted: the proxy seeing the request twice is the proof.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib import config
from chalicelib.adapters import dynamo
from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.sqs_queue import SqsQueue
from chalicelib.core.model import Account
from devtools import local_iam
from devtools.fault_proxy import HANG, LOSE_ANSWER, Fault, FaultProxy

HUNG_SECONDS = 2.0


@pytest.fixture
def proxied(moto_server, monkeypatch):
    """The app's settings pointed at a fault proxy in front of moto, with the deployed short limits."""
    proxy = FaultProxy(moto_server.url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_CONNECT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("AWS_READ_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("AWS_MAX_RETRY_ATTEMPTS", "2")
    monkeypatch.setattr(dynamo, "_shared_connection", None)
    yield proxy
    monkeypatch.undo()
    m.bind()  # the models as the rest of the session had them
    local_iam.enforce_on_the_apps_clients()  # new clients: held to the functions' grants again
    proxy.stop()


@pytest.fixture
def hanging_once(proxied):
    """The proxy holds its first request longer than the read timeout."""
    proxied.inject(Fault(HANG, r"^/$", seconds=HUNG_SECONDS, times=1))
    return proxied


def test_without_settings_the_limits_are_the_deployed_ones(monkeypatch):
    for name in ("AWS_CONNECT_TIMEOUT_SECONDS", "AWS_READ_TIMEOUT_SECONDS", "AWS_MAX_RETRY_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    assert config.aws_call_limits() == config.CallLimits(connect_seconds=0.5, read_seconds=1.0, retries=2)
    assert config.aws_call_limits().slowest_seconds == 4.5


def test_a_model_request_that_hangs_is_tried_again(chalice_app, hanging_once):
    m.bind()
    assert m.AccountModel.Meta.read_timeout_seconds == 0.5 and m.AccountModel.Meta.max_retry_attempts == 2
    assert m.AccountModel.count("acct_nobody") == 0
    assert hanging_once.hits == [(HANG, "POST", "/")]
    assert len(hanging_once.requests) >= 2  # tried again; on a loaded machine a retry may time out once more too


def test_a_transaction_connection_request_that_hangs_is_tried_again(chalice_app, hanging_once):
    with local_iam.running(local_iam.OPERATOR):  # ListTables: no function's role grants it, the operator's does
        assert config.table_prefix() + "accounts" in dynamo._connection().list_tables()["TableNames"]
    assert len(hanging_once.requests) >= 2 and len(hanging_once.hits) == 1


def test_an_sqs_request_that_hangs_is_tried_again(chalice_app, hanging_once):
    queue = SqsQueue()
    assert queue.url(config.timers_queue_name()).endswith(config.timers_queue_name())
    assert len(hanging_once.requests) >= 2 and len(hanging_once.hits) == 1


def test_a_transaction_whose_answer_was_lost_succeeds_on_its_retry(chalice_app, proxied):
    """DynamoDB made the transaction but its answer was lost: the SDK's retry carries the same token, and DynamoDB
    answers it with success without making it again (the dev server answers as DynamoDB does: devtools.moto_tokens).
    Without the token the retry would fail its version conditions: a conflict for the caller's own success."""
    repo = dynamo.DynamoRepository()
    now = datetime.now(UTC)
    pair = [Account(id=f"acct_lost{uuid.uuid4().hex[:12]}", role="client", name="before", email="a@example.com",
                    created_at=now) for _ in range(2)]
    repo.commit(created=pair)
    stored = [repo.get_account(account.id) for account in pair]
    before = len(proxied.requests)
    proxied.inject(Fault(LOSE_ANSWER, r"^/$", times=1))
    repo.commit(changed=[replace(account, name="after") for account in stored])
    assert proxied.hits == [(LOSE_ANSWER, "POST", "/")] and len(proxied.requests) == before + 2
    assert [(a.name, a.version) for a in (repo.get_account(account.id) for account in pair)] == [("after", 2)] * 2
