"""The operator commands of docs/OPERATIONS.md against a deployed stage's layout (the stateful stack of infra/ in
moto): the names `--stage` resolves are the ones the stack creates, and a dead letter comes back to its queue."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT
from .test_stack import _create_stateful_stack

STAGE = "opsstage"


def _ops(aws, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops", "--stage", STAGE, *args], cwd=ROOT, env=aws.env(),
                          capture_output=True, text=True, timeout=120)


def test_ops_commands_run_against_a_stage(aws):
    _create_stateful_stack(aws, stage=STAGE)
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName=f"bounty-{STAGE}-refunds-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"bounty_id": "bty_dead"}))

    for args, expected in ((("reconcile", "--all"), "0 bounties checked, 0 differences"),
                           (("failed-payouts",), "0 failed payouts"),
                           (("redrive", "--all-failed", "--dlq"), "1 dead letters moved back")):
        result = _ops(aws, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert expected in result.stdout, result.stdout

    source = sqs.get_queue_url(QueueName=f"bounty-{STAGE}-refunds")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"]) == {"bounty_id": "bty_dead"}
