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
    env = aws.env()
    env["AWS_REGION"] = env.pop("AWS_DEFAULT_REGION")  # as docs/DEPLOY.md sets it (botocore alone reads only the other)
    return subprocess.run([sys.executable, "-m", "ops", "--stage", STAGE, *args], cwd=ROOT, env=env,
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


def test_a_deploy_runs_each_upgrade_step_once_per_stage(aws, capsys, monkeypatch):
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
    # A bounty never funded, as the release before deadline timers at posting stored it: no timer, no mark.
    bounties = f"bounty-{STAGE}-bounties"
    dynamodb.put_item(TableName=bounties, Item={
        "id": {"S": "bty_old"}, "client_id": {"S": "acct_client"}, "title": {"S": "t"}, "description": {"S": "d"},
        "reward": {"N": "500"}, "currency": {"S": "usd"}, "slots": {"N": "1"}, "tags": {"L": []},
        "deadline": {"S": "2026-11-02T00:00:00.000000+0000"}, "review_window_seconds": {"N": "3600"},
        "status": {"S": "awaiting_funding"}, "created_at": {"S": "2026-11-01T00:00:00.000000+0000"},
        "updated_at": {"S": "2026-11-01T00:00:00.000000+0000"}, "fee": {"N": "50"}, "amount_total": {"N": "550"},
        "free_slots": {"N": "1"}, "version": {"N": "1"}, "sort_key": {"S": "2026-11-01T00:00:00+00:00#bty_old"}})
    participants = f"bounty-{STAGE}-participants"
    dynamodb.put_item(TableName=participants, Item={
        "bounty_id": {"S": "bty_old"}, "freelancer_id": {"S": "acct_old"}, "version": {"N": "1"}})
    # Work handed in to it, still awaiting review, as a release before review queues stored it: no client.
    submissions = f"bounty-{STAGE}-submissions"
    dynamodb.put_item(TableName=submissions, Item={
        "id": {"S": "sub_old"}, "bounty_id": {"S": "bty_old"}, "freelancer_id": {"S": "acct_worker"},
        "content": {"S": "x"}, "links": {"L": []}, "status": {"S": "pending_review"},
        "created_at": {"S": "2026-11-01T00:00:00.000000+0000"},
        "auto_approve_at": {"S": "2026-11-01T01:00:00.000000+0000"}, "version": {"N": "1"},
        "sort_key": {"S": "2026-11-01T00:00:00+00:00#sub_old"}})
    steps = ["index-unpaid", "file-unfunded-expiry", "note-submissions", "copy-work", "end-cancelled-claims",
             "cancel-unpaid-intents", "index-reviews", "time-bounties", "index-search"]

    assert deploy.apply_upgrades(ssm, STAGE, aws.env(), new_stage=False, dry_run=True) == []
    shown = capsys.readouterr().out
    assert all(f"would run the upgrade step: python -m ops --stage opsstage {step}" in shown for step in steps)
    assert "unpaid_freelancer" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "pay_old"}})["Item"]

    waited = []
    monkeypatch.setattr(deploy, "_wait_for_old_calls", waited.append)
    assert deploy.apply_upgrades(ssm, STAGE, aws.env(), new_stage=False, dry_run=False, settle_seconds=150) == steps
    shown = capsys.readouterr().out
    # The steps whose items a call of the earlier release may still rewrite run again once such calls have ended.
    assert waited == [150]
    assert shown.count("(again, for what those calls wrote)") == 7
    assert "0 claims, submissions and payouts were copied" in shown.split("again")[-6]
    assert "0 submissions awaiting review were put" in shown.split("again")[-3]
    assert "0 bounties with approved work were given the totals of its time" in shown.split("again")[-2]
    assert "0 bounties were given the text a search of bounties looks in" in shown.split("again")[-1]
    assert "1 bounties were given the text a search of bounties looks in" in shown
    assert "1 unpaid payouts stored before the unpaid index were put into it" in shown
    assert "1 unfunded bounties posted before bounties got a deadline timer when posted were given one" in shown
    assert "1 participant records of an earlier release were given the list of their submissions" in shown
    assert "0 cancelled bounties with claims still live were given the timer that ends them" in shown
    assert "0 bounties closed before they were paid were queued to have their payment cancelled" in shown
    participant = dynamodb.get_item(TableName=participants,
                                    Key={"bounty_id": {"S": "bty_old"}, "freelancer_id": {"S": "acct_old"}})["Item"]
    assert participant["submissions"] == {"S": "[]"} and participant["version"] == {"N": "2"}
    assert "2 claims, submissions and payouts were copied into their freelancer's list of work" in shown
    assert "1 submissions awaiting review were put into their client's review queue" in shown
    submission = dynamodb.get_item(TableName=submissions, Key={"id": {"S": "sub_old"}})["Item"]
    assert (submission["review_client"], submission["review_due"]) == (
        {"S": "acct_client"}, {"S": "2026-11-01T01:00:00+00:00#sub_old"})
    copied = dynamodb.scan(TableName=f"bounty-{STAGE}-work")["Items"]
    assert sorted((c["freelancer_id"]["S"], c["kind"]["S"]) for c in copied) == [
        ("acct_old", "payout"), ("acct_worker", "submission")]
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "pay_old"}})["Item"]
    assert item["unpaid_freelancer"] == {"S": "acct_old"} and item["version"] == {"N": "2"}
    bounty = dynamodb.get_item(TableName=bounties, Key={"id": {"S": "bty_old"}})["Item"]
    assert bounty["expiry_timer_filed"] == {"BOOL": True} and bounty["version"] == {"N": "2"}
    [timer] = dynamodb.scan(TableName=f"bounty-{STAGE}-timers")["Items"]
    assert (timer["kind"], timer["ref_id"]) == ({"S": "expire_bounty"}, {"S": "bty_old"})
    recorded = ssm.get_parameter(Name=deploy.upgrades_parameter(STAGE))["Parameter"]["Value"]
    assert recorded == ",".join(sorted(steps))
    assert deploy.apply_upgrades(ssm, STAGE, aws.env(), new_stage=False, dry_run=False) == []

    assert deploy.apply_upgrades(ssm, "fresh", aws.env(), new_stage=True, dry_run=False) == []
    fresh = ssm.get_parameter(Name=deploy.upgrades_parameter("fresh"))["Parameter"]["Value"]
    assert fresh == ",".join(sorted(steps))


def _timer_item(ref_id: str, shard: str) -> dict:
    return {"shard": {"S": shard}, "due_key": {"S": f"2026-11-01T00:00:00#lapse_claim#{ref_id}"},
            "kind": {"S": "lapse_claim"}, "ref_id": {"S": ref_id},
            "due_at": {"S": "2026-11-01T00:00:00.000000+0000"}, "version": {"N": "1"}}


def _shards_of(dynamodb, table: str, key: dict, attribute: str) -> str:
    return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"][attribute]["S"]


def test_a_deploy_moves_open_bounties_and_timers_when_a_shard_setting_changes(aws, capsys, monkeypatch):
    """infra/stages.json's shard settings reach the functions with the stack update; the deploy then moves what is
    stored under the old shards (or listings would hide open bounties and the sweep would leave timers unfired),
    once per change, recorded in SSM. A stage deployed before the settings were recorded is taken to have used
    4 shards (the most any release used), and a new stage only records them."""
    from chalicelib.core.timers import shard_of
    from infra import deploy

    _create_stateful_stack(aws, stage=STAGE)
    dynamodb, ssm = aws.client("dynamodb"), aws.client("ssm")
    bounties, timers = f"bounty-{STAGE}-bounties", f"bounty-{STAGE}-timers"
    # An open bounty under shard 3 of the 4 an older release used; a timer under shard 3, where a 2-shard sweep
    # never looks.
    dynamodb.put_item(TableName=bounties, Item={"id": {"S": "bty_old"}, "status": {"S": "open"},
                                                "open_shard": {"S": "open#3"}, "sort_key": {"S": "2026-11-01#bty_old"},
                                                "version": {"N": "3"}})
    ref_id = next(f"clm_old{n}" for n in range(100) if shard_of(f"clm_old{n}", 4) == "timers#3")
    dynamodb.put_item(TableName=timers, Item=_timer_item(ref_id, "timers#3"))
    bounty_key, settings = {"id": {"S": "bty_old"}}, {"OPEN_INDEX_SHARDS": 1, "TIMER_SHARDS": 4}

    assert deploy.apply_shard_settings(ssm, STAGE, aws.env(), settings, new_stage=False, dry_run=True) == []
    assert (f"would move items to the new OPEN_INDEX_SHARDS: python -m ops --stage {STAGE} reshard-open --from 4 "
            "--to 1") in capsys.readouterr().out
    assert _shards_of(dynamodb, bounties, bounty_key, "open_shard") == "open#3"

    assert deploy.apply_shard_settings(ssm, STAGE, aws.env(), settings, new_stage=False, dry_run=False) == [
        "reshard-open"]  # the timers' setting did not change: 4 before, 4 now
    out = capsys.readouterr().out
    assert "1 open bounties moved from 4 shards to 1" in out and "0 open bounties moved from 4 shards to 1" in out
    assert _shards_of(dynamodb, bounties, bounty_key, "open_shard") == "open#0"
    recorded = ssm.get_parameter(Name=deploy.shards_parameter(STAGE))["Parameter"]["Value"]
    assert json.loads(recorded) == settings
    assert deploy.apply_shard_settings(ssm, STAGE, aws.env(), settings, new_stage=False, dry_run=False) == []

    # A call still running with the old setting files a timer under an old shard after the first move (it began
    # before the update): the second pass, once the longest function timeout has passed, moves it too.
    late_ref = next(f"clm_late{n}" for n in range(100) if shard_of(f"clm_late{n}", 2) != shard_of(ref_id, 2))
    waits = []

    def a_late_write_while_waiting(seconds):
        waits.append(seconds)
        dynamodb.put_item(TableName=timers, Item=_timer_item(late_ref, "timers#3"))

    monkeypatch.setattr(deploy, "_wait_for_old_calls", a_late_write_while_waiting)
    fewer_timers = {**settings, "TIMER_SHARDS": 2}
    assert deploy.apply_shard_settings(ssm, STAGE, aws.env(), fewer_timers, new_stage=False, dry_run=False,
                                       settle_seconds=60) == ["reshard-timers"]
    out = capsys.readouterr().out
    assert waits == [60] and "waiting 60 s for calls still running with the old settings to end" in out
    assert out.count("1 timers moved from 4 shards to 2") == 2, out
    for moved_ref in (ref_id, late_ref):
        moved = dynamodb.query(TableName=timers, KeyConditionExpression="shard = :s",
                               ExpressionAttributeValues={":s": {"S": shard_of(moved_ref, 2)}})["Items"]
        assert [item["ref_id"]["S"] for item in moved] == [moved_ref]
    assert dynamodb.query(TableName=timers, KeyConditionExpression="shard = :s",
                          ExpressionAttributeValues={":s": {"S": "timers#3"}})["Items"] == []
    assert json.loads(ssm.get_parameter(Name=deploy.shards_parameter(STAGE))["Parameter"]["Value"]) == fewer_timers

    assert deploy.apply_shard_settings(ssm, "fresh", aws.env(), settings, new_stage=True, dry_run=False) == []
    assert json.loads(ssm.get_parameter(Name=deploy.shards_parameter("fresh"))["Parameter"]["Value"]) == settings


def test_a_failed_move_names_the_command_and_records_nothing(aws):
    """The stack is deployed by then; the deploy stops with the command to run again, and the next deploy, finding
    the old settings still recorded, moves the items itself."""
    import pytest

    from infra import deploy

    ssm = aws.client("ssm")  # no stateful stack: the move finds no tables
    with pytest.raises(deploy.DeployError) as failed:
        deploy.apply_shard_settings(ssm, STAGE, aws.env(), {"OPEN_INDEX_SHARDS": 1, "TIMER_SHARDS": 4},
                                    new_stage=False, dry_run=False)
    assert f"Run it again: python -m ops --stage {STAGE} reshard-open --from 4 --to 1" in str(failed.value)
    assert ssm.describe_parameters()["Parameters"] == []


def test_ops_on_a_stage_stores_items_where_its_functions_do(tmp_path, monkeypatch):
    """The shard counts come from infra/stages.json (what the stage's package was built with), so an upgrade step's
    timer lands in a shard the stage's sweep reads; an explicit setting in the environment still wins."""
    import argparse
    import os

    from infra import build_template
    from ops.__main__ import _environment

    stages = tmp_path / "stages.json"
    stages.write_text(json.dumps({"default": {"open_index_shards": 1, "timer_shards": 4},
                                  STAGE: {"timer_shards": 2, "open_index_shards": 3}}))
    monkeypatch.setattr(build_template, "STAGES_FILE", stages)
    # A copy: the command points everything at the stage (secrets from SSM, ...), which must not outlive the test.
    monkeypatch.setattr(os, "environ", {name: value for name, value in os.environ.items()
                                        if name not in ("TIMER_SHARDS", "OPEN_INDEX_SHARDS")})
    os.environ["OPEN_INDEX_SHARDS"] = "5"
    _environment(argparse.Namespace(local=False, stage=STAGE, state_dir=None))
    assert (os.environ["TIMER_SHARDS"], os.environ["OPEN_INDEX_SHARDS"]) == ("2", "5")
