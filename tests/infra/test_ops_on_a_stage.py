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


def test_a_deploy_runs_each_upgrade_step_once_per_stage(aws, capsys):
    """An existing stage gets the steps it has not had, run against its tables and recorded in SSM; a later deploy
    runs none; a new stage (nothing stored) records them without running them."""
    from infra import deploy

    _create_stateful_stack(aws, stage=STAGE)
    dynamodb, ssm = aws.client("dynamodb"), aws.client("ssm")
    table = f"bounty-{STAGE}-payouts"
    # A payout held for onboarding, as the release before the unpaid index stored it.
    dynamodb.put_item(TableName=table, Item={
        "id": {"S": "pay_old"}, "submission_id": {"S": "sub_old"}, "bounty_id": {"S": "bty_old"},
        "freelancer_id": {"S": "acct_old"}, "amount": {"N": "500"}, "currency": {"S": "usd"},
        "status": {"S": "awaiting_onboarding"}, "created_at": {"S": "2026-11-01T00:00:00.000000+0000"},
        "updated_at": {"S": "2026-11-01T00:00:00.000000+0000"}, "attempts": {"N": "0"}, "version": {"N": "2"},
        "sort_key": {"S": "2026-11-01T00:00:00+00:00#pay_old"}})

    assert deploy.apply_upgrades(ssm, STAGE, aws.env(), new_stage=False, dry_run=True) == []
    assert "would run the upgrade step: python -m ops --stage opsstage index-unpaid" in capsys.readouterr().out
    assert "unpaid_freelancer" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "pay_old"}})["Item"]

    assert deploy.apply_upgrades(ssm, STAGE, aws.env(), new_stage=False, dry_run=False) == ["index-unpaid"]
    assert "1 unpaid payouts stored before the unpaid index were put into it" in capsys.readouterr().out
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "pay_old"}})["Item"]
    assert item["unpaid_freelancer"] == {"S": "acct_old"} and item["version"] == {"N": "2"}
    recorded = ssm.get_parameter(Name=deploy.upgrades_parameter(STAGE))["Parameter"]["Value"]
    assert recorded == "index-unpaid"
    assert deploy.apply_upgrades(ssm, STAGE, aws.env(), new_stage=False, dry_run=False) == []

    assert deploy.apply_upgrades(ssm, "fresh", aws.env(), new_stage=True, dry_run=False) == []
    assert ssm.get_parameter(Name=deploy.upgrades_parameter("fresh"))["Parameter"]["Value"] == "index-unpaid"
