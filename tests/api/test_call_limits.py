"""Every DynamoDB and SQS client of the app carries the call limits of chalicelib.config.aws_call_limits: a request
that hangs is given up after the read timeout and tried again, instead of waiting out the SDK's 30 or 60 s.

A fault proxy in front of moto holds the first request (then forwards it, too late); the call still succeeds, on
its second try. No time is asserted: the proxy seeing the request twice is the proof.
"""

from __future__ import annotations

import pytest

from chalicelib import config
from chalicelib.adapters import dynamo
from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.sqs_queue import SqsQueue
from devtools import local_iam
from devtools.fault_proxy import HANG, Fault, FaultProxy

HUNG_SECONDS = 2.0


@pytest.fixture
def hanging_once(moto_server, monkeypatch):
    """The app's settings pointed at a proxy that holds its first request longer than the read timeout."""
    proxy = FaultProxy(moto_server.url).start()
    proxy.inject(Fault(HANG, r"^/$", seconds=HUNG_SECONDS, times=1))
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
