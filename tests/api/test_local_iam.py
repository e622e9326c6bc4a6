"""The app's SQS calls are held to each function's grants in infra/build_template.FUNCTIONS (devtools/local_iam.py),
so a send the deployed role would refuse fails in the tests as it would on AWS, where moto would let it pass.
(What each function really sends is exercised by the rest of the suite; tests/api/test_cancelled_claims.py checks
the timers worker's send to its own queue, which the role once lacked.)"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib import config
from devtools import local_iam


def _refused(queue, name: str) -> str:
    with pytest.raises(ClientError) as refused:
        queue.send(name, {"probe": True})  # refused before it is sent: nothing reaches the queue
    return refused.value.response["Error"]["Code"]


def test_a_function_may_touch_only_the_queues_its_role_grants(stack):
    from chalicelib.bootstrap import deps

    queue = deps().queue
    with local_iam.running("sweep_timers"):
        assert _refused(queue, config.payouts_queue_name()) == "AccessDenied"
        assert _refused(queue, config.refunds_queue_name()) == "AccessDenied"
    with local_iam.running("payouts_worker"):
        assert _refused(queue, config.refunds_queue_name()) == "AccessDenied"
    assert _refused(queue, config.timers_queue_name()) == "AccessDenied"  # outside a handler: the API function
    with local_iam.running("refunds_worker"), pytest.raises(ClientError):
        queue.client.get_queue_url(QueueName=config.payouts_queue_name())
    with local_iam.running("timers_worker"):
        for name in (config.timers_queue_name(), config.payouts_queue_name(), config.refunds_queue_name()):
            assert queue.client.get_queue_url(QueueName=name)["QueueUrl"].endswith(name)


def test_the_grants_are_the_templates():
    from infra.build_template import FUNCTIONS

    api = local_iam.allowed_operations("api_handler")
    assert set(api) == {config.payouts_queue_name(), config.refunds_queue_name()}
    assert api[config.payouts_queue_name()] == {"SendMessage", "GetQueueUrl"}
    worker = local_iam.allowed_operations("timers_worker")[config.timers_queue_name()]
    assert {"ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "SendMessage"} <= worker
    assert local_iam.allowed_operations("payouts_worker")[config.payouts_queue_name()] >= {"SendMessage"}
    assert {f.name for f in FUNCTIONS} == {"api_handler", "payouts_worker", "refunds_worker", "timers_worker",
                                           "sweep_timers"}


def test_a_function_may_touch_only_the_tables_its_role_grants_and_never_scan(stack):
    from chalicelib.adapters import dynamo_models as m

    # The grants as the stack fixture set them, on the models' clients as they are now: one test in a full run
    # (CI, once in three runs) found a model's client without them, made anew since, and checked nothing.
    local_iam.enforce_on_the_apps_clients()

    with pytest.raises(PynamoDBException, match="AccessDenied"):  # the API function: every table, but no Scan
        list(m.ClaimModel.scan(limit=1))
    assert m.BountyModel.count("bty_none") == 0  # a Query is granted
    with local_iam.running("sweep_timers"):
        assert list(m.TimerModel.query("timers#0", limit=1)) is not None  # its own table
        with pytest.raises(PynamoDBException, match="AccessDenied"):
            m.BountyModel.get("bty_none")  # the sweep's role holds the timers table alone
    for worker in ("payouts_worker", "refunds_worker", "timers_worker"):
        with local_iam.running(worker), pytest.raises(PynamoDBException, match="AccessDenied"):
            m.ApiKeyModel.get("none")  # no worker's role reads API keys
    with local_iam.running(local_iam.OPERATOR):
        list(m.ClaimModel.scan(limit=1))  # the operator's upgrade steps may scan


def test_the_table_grants_are_the_templates():
    from chalicelib import config

    def tables(function: str) -> set[str]:
        return {name.removeprefix(config.table_prefix()) for name in local_iam.allowed_tables(function)}

    assert tables("sweep_timers") == {"timers"}
    assert tables("refunds_worker") == {"bounties", "ledger"}
    assert "ledger" in tables("payouts_worker") and "ledger" not in tables("timers_worker")
    assert tables("api_handler") >= {"api_keys", "idempotency", "messages"}
    for worker in ("payouts_worker", "refunds_worker", "timers_worker", "sweep_timers"):
        # No worker reads API keys (hashed, but the one secret of every caller), others' requests or messages.
        assert not tables(worker) & {"api_keys", "idempotency", "messages"}, worker
