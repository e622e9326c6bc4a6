"""The packaged template (chalice package merged with infra/): lint-clean, and with every setting the
deployment relies on. moto cannot create the SAM/API Gateway half, so these tests read it."""

from __future__ import annotations

import copy
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.adapters import dynamo_models
from chalicelib.core import rules
from chalicelib.web import session
from infra import build_template, deploy

from .conftest import PACKAGED_STAGE, ROOT

SQS_FUNCTIONS = {"PayoutsWorker": "PayoutsQueue", "RefundsWorker": "RefundsQueue", "TimersWorker": "TimersQueue"}
STRIPE_WORKERS = ("PayoutsWorker", "RefundsWorker")


def _of_type(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _functions(template: dict) -> dict:
    return _of_type(template, "AWS::Serverless::Function")


def _sqs_event(template: dict, logical_id: str) -> dict:
    """The properties of a worker's one SQS event source."""
    (event,) = template["Resources"][logical_id]["Properties"]["Events"].values()
    return event["Properties"]


def _sub(value, stage: str = PACKAGED_STAGE) -> str:
    """A `Fn::Sub` string with ${Stage} filled in (the only parameter our names use)."""
    return value["Fn::Sub"].replace("${Stage}", stage)


def _lint(*templates: tuple[dict, Path]) -> subprocess.CompletedProcess:
    for template, path in templates:
        path.write_text(json.dumps(template, indent=1))
    command = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
               *(str(path) for _, path in templates)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _transform(template: dict) -> dict:
    """What CloudFormation's AWS::Serverless transform makes of the template deploy.py uploads.

    cfn-lint checks a SAM template's resources but not inside their `Events`; the plain CloudFormation that
    SAM generates (event source mappings, the API stage) it checks completely."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    uploaded = deploy.point_code_at(template, "artifact-bucket", f"{PACKAGED_STAGE}/code.zip")
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(uploaded, parameter_values={})


def test_packaged_template_passes_cfn_lint_without_suppressions(template, tmp_path):
    transformed = _transform(template)
    result = _lint((template, tmp_path / "sam.json"), (transformed, tmp_path / "transformed.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    for document in (template, transformed):
        assert "cfn-lint" not in json.dumps(document.get("Metadata", {}))
        assert all("cfn-lint" not in json.dumps(r.get("Metadata", {})) for r in document["Resources"].values())
    assert not list(ROOT.glob(".cfnlintrc*"))
    mappings = [r["Properties"] for r in transformed["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == len(SQS_FUNCTIONS)
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    capped = {m["FunctionName"]["Ref"]: m["ScalingConfig"] for m in mappings if "ScalingConfig" in m}
    assert capped == {logical: _sqs_event(template, logical)["ScalingConfig"] for logical in STRIPE_WORKERS}
    (stage,) = [r["Properties"] for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    (rest_api,) = [r["Properties"] for r in transformed["Resources"].values()
                   if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert rest_api["Name"] == template["Resources"]["RestAPI"]["Properties"]["Name"]  # its metrics' ApiName
    assert stage["MethodSettings"] == template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    # A deployment that names a stage creates it too: SAM's default "Stage", a second API with no throttling.
    deployments = [r["Properties"] for r in transformed["Resources"].values()
                   if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert deployments and all("StageName" not in d for d in deployments), deployments


@pytest.mark.parametrize("setting, value", [("FunctionResponseTypes", ["ReportEverything"]),
                                            ("ScalingConfig", {"MaximumConcurrency": 1})])
def test_the_checks_would_catch_a_broken_event_source(template, tmp_path, setting, value):
    broken = copy.deepcopy(template)
    _sqs_event(broken, "PayoutsWorker")[setting] = value
    assert _lint((_transform(broken), tmp_path / "broken.json")).returncode != 0


def test_template_holds_every_function_of_the_app(template):
    from app import app

    handlers = {f["Properties"]["Handler"] for f in _functions(template).values()}
    sqs_handlers = {s.name for s in app.event_sources if type(s).__name__ == "SQSEventConfig"}
    scheduled = {s.name for s in app.event_sources if type(s).__name__ == "ScheduledEventConfig"}
    assert handlers == {"app.app"} | {f"chalicelib.workers.queues.{n}" for n in sqs_handlers | scheduled}
    assert {f.name for f in build_template.FUNCTIONS} == {"api_handler"} | sqs_handlers | scheduled


def test_sqs_sources_report_partial_failures_and_depend_on_their_queues(template, monkeypatch):
    monkeypatch.setenv("STAGE", PACKAGED_STAGE)
    for env in ("QUEUE_PREFIX", "TABLE_PREFIX"):
        monkeypatch.delenv(env, raising=False)
    expected_queue = {"PayoutsQueue": config.payouts_queue_name(), "RefundsQueue": config.refunds_queue_name(),
                      "TimersQueue": config.timers_queue_name()}
    functions = _functions(template)
    with_sqs = {k for k, f in functions.items()
                if any(e["Type"] == "SQS" for e in f["Properties"].get("Events", {}).values())}
    assert with_sqs == set(SQS_FUNCTIONS)
    for logical, queue in SQS_FUNCTIONS.items():
        function = functions[logical]
        (event,) = function["Properties"]["Events"].values()
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert queue in function["DependsOn"]
        arn = event["Properties"]["Queue"]["Fn::Sub"]
        assert arn.rsplit(":", 1)[-1] == expected_queue[queue] == _sub(template["Resources"][queue]["Properties"]
                                                                       ["QueueName"])


def test_queue_visibility_covers_the_function_timeout(template):
    for logical, queue in SQS_FUNCTIONS.items():
        timeout = template["Resources"][logical]["Properties"]["Timeout"]
        visibility = template["Resources"][queue]["Properties"]["VisibilityTimeout"]
        assert visibility >= timeout, f"{queue}: AWS refuses an event source whose queue hides messages less long"
        # AWS's advice for SQS triggers: while Lambda is throttled, messages are received again without the handler
        # running, and with less room they would reach the dead-letter queue untried (their payouts left queued).
        assert visibility >= 6 * timeout, f"{queue}: hides a message less than 6 × its function's timeout"
    api_timeout = template["Resources"]["APIHandler"]["Properties"]["Timeout"]
    assert api_timeout <= 29, "API Gateway gives up after 29 s"


# Stripe requests one invocation may make at most. A worker's message: the look-up by our id, a page of 100 per
# request over as many transfers (or refunds) as the largest bounty has slots, then the create. An API request:
# two (a funding intent confirmed, then read back; a Connect account, then its onboarding link; a refund of a
# stray payment looked up, then made).
STRIPE_PAGE = 100
STRIPE_REQUESTS = {"worker message": 1 + -(-rules.MAX_SLOTS // STRIPE_PAGE), "API request": 2}
# Stripe's share of a function's timeout; the rest is for DynamoDB and SQS (milliseconds a call when healthy).
STRIPE_SHARE = 0.8


def _stripe_request_seconds() -> float:
    """The longest one Stripe request may take: each try waits up to the client's timeout, and stripe-python
    sleeps between tries 0.5 s doubling up to MAX_DELAY, never under 0.5 s (its jitter only shortens a sleep)."""
    import stripe

    from chalicelib.adapters.stripe_payments import StripePayments

    defaults = inspect.signature(StripePayments).parameters
    timeout, retries = defaults["timeout"].default, defaults["network_retries"].default
    initial, longest = stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY
    sleeps = sum(max(initial, min(initial * 2 ** (n - 1), longest)) for n in range(1, retries + 1))
    return (retries + 1) * timeout + sleeps


def test_stripe_requests_at_their_slowest_fit_every_timeout_of_a_function_that_calls_stripe(template):
    """A function killed by its timeout records nothing: its payouts would stay queued, their messages retried
    until the DLQ without ever being marked failed. So every message of a batch, and every API request, must be
    able to wait out all its Stripe requests at their slowest."""
    request = _stripe_request_seconds()
    calling = {k: f["Properties"] for k, f in _functions(template).items()
               if "STRIPE_SECRET_KEY_PARAM" in f["Properties"]["Environment"]["Variables"]}
    assert set(calling) == {"APIHandler", "PayoutsWorker", "RefundsWorker"}
    for logical, function in calling.items():
        if logical == "APIHandler":
            worst = STRIPE_REQUESTS["API request"] * request
        else:
            (event,) = function["Events"].values()
            worst = event["Properties"]["BatchSize"] * STRIPE_REQUESTS["worker message"] * request
        assert worst <= STRIPE_SHARE * function["Timeout"], f"{logical}: {worst:g} s of Stripe requests"


def test_workers_that_call_stripe_run_at_most_the_stages_concurrency(template):
    """A burst of payouts or refunds (the sweep's auto-approvals, a redrive of the dead letters) would otherwise
    scale a worker out to hundreds of invocations, each calling Stripe, which answers 429 past its rate limit."""
    stages = json.loads((ROOT / "infra" / "stages.json").read_text())
    expected = {**stages["default"], **stages.get(PACKAGED_STAGE, {})}["stripe_worker_concurrency"]
    calling_stripe = {k for k, f in _functions(template).items() if "Events" in f["Properties"]
                      and "STRIPE_SECRET_KEY_PARAM" in f["Properties"]["Environment"]["Variables"]}
    assert calling_stripe == set(STRIPE_WORKERS)
    for logical in SQS_FUNCTIONS:
        scaling = _sqs_event(template, logical).get("ScalingConfig")
        if logical in STRIPE_WORKERS:
            assert scaling == {"MaximumConcurrency": expected}, logical
        else:
            assert scaling is None, f"{logical} makes no Stripe request: nothing to hold it back for"


def _odd_stage(settings: dict, tmp_path, monkeypatch) -> None:
    """infra/stages.json with a stage `odd` of these settings, for the packaging to read."""
    stages = json.loads((ROOT / "infra" / "stages.json").read_text())
    stages["odd"] = settings
    (tmp_path / "stages.json").write_text(json.dumps(stages))
    monkeypatch.setattr(build_template, "STAGES_FILE", tmp_path / "stages.json")


@pytest.mark.parametrize("bad", [1, 0, 1001, "5", 2.5, True, None])
def test_a_worker_concurrency_out_of_range_stops_the_packaging(bad, tmp_path, monkeypatch):
    _odd_stage({"stripe_worker_concurrency": bad}, tmp_path, monkeypatch)
    with pytest.raises(SystemExit, match="stage odd: stripe_worker_concurrency must be a whole number from 2 to 1000"):
        build_template.merge_template("odd")
    _odd_stage({"stripe_worker_concurrency": 20}, tmp_path, monkeypatch)
    events = build_template.merge_template("odd")["Resources"]["RefundsWorker"]["Properties"]["Events"]
    assert [e["Properties"]["ScalingConfig"] for e in events.values()] == [{"MaximumConcurrency": 20}]


def test_one_dynamodb_or_sqs_request_failing_every_try_fits_the_share_stripe_leaves(template, monkeypatch):
    """A request that hangs is given up at the read timeout and tried again; even one whose every try hangs must
    leave the function time to answer (an API request) or to record what happened (a worker)."""
    names = ("AWS_CONNECT_TIMEOUT_SECONDS", "AWS_READ_TIMEOUT_SECONDS", "AWS_MAX_RETRY_ATTEMPTS")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    slowest = config.aws_call_limits().slowest_seconds
    for logical, function in _functions(template).items():
        assert not set(names) & set(function["Properties"]["Environment"]["Variables"]), logical  # the defaults
        assert slowest <= (1 - STRIPE_SHARE) * function["Properties"]["Timeout"], f"{logical}: {slowest:g} s"


def test_the_timers_worker_has_time_for_one_message_at_its_slowest(template, monkeypatch):
    """It takes each message of its batch only while its time left holds one at its slowest and then putting back
    the rest (chalicelib/workers/queues.py): with a shorter timeout it would put back every message, for ever."""
    from chalicelib.workers import queues

    for name in ("AWS_CONNECT_TIMEOUT_SECONDS", "AWS_READ_TIMEOUT_SECONDS", "AWS_MAX_RETRY_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    timeout = _functions(template)["TimersWorker"]["Properties"]["Timeout"]
    assert queues.timer_message_seconds() + queues.TimeLeft.ANSWER_SECONDS <= timeout


def test_the_sweep_has_time_for_a_shard_and_a_batch_at_their_slowest(template, monkeypatch):
    """It starts a shard only while its time left holds the shard's Query and a batch of one at their slowest
    (chalicelib/services/timers.py): with a shorter timeout it would never send anything."""
    from chalicelib.services import timers
    from chalicelib.workers import queues

    for name in ("AWS_CONNECT_TIMEOUT_SECONDS", "AWS_READ_TIMEOUT_SECONDS", "AWS_MAX_RETRY_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    timeout = _functions(template)["SweepTimers"]["Properties"]["Timeout"]
    shard = timers.SHARD_CALLS * config.aws_call_limits().slowest_seconds
    assert shard + queues.TimeLeft.ANSWER_SECONDS <= timeout


def test_redrive_limit_is_the_one_the_code_counts_with(template, monkeypatch):
    monkeypatch.delenv("MAX_RECEIVE_COUNT", raising=False)
    assert template["Parameters"]["MaxReceiveCount"]["Default"] == config.max_receive_count()
    for queue in SQS_FUNCTIONS.values():
        redrive = template["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
        dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert _sub(template["Resources"][dlq]["Properties"]["QueueName"]) == \
            _sub(template["Resources"][queue]["Properties"]["QueueName"]) + "-dlq"
        retention = template["Resources"][queue]["Properties"]["MessageRetentionPeriod"]
        assert template["Resources"][dlq]["Properties"]["MessageRetentionPeriod"] > retention
    for function in _functions(template).values():  # the payout worker decides "last try" with this number
        assert function["Properties"]["Environment"]["Variables"]["MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}


def test_tables_are_kept_and_recoverable(template):
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert {_sub(t["Properties"]["TableName"]) for t in tables.values()} == \
        {f"bounty-{PACKAGED_STAGE}-{m.entity}" for m in dynamo_models.ALL_MODELS}
    for logical, table in tables.items():
        assert table["DeletionPolicy"] == "Retain", logical
        assert table["UpdateReplacePolicy"] == "Retain", logical
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["Properties"]["DeletionProtectionEnabled"] is True, logical  # no stray delete drops the ledger
        assert table["Properties"]["BillingMode"] == dynamo_models.AccountModel.Meta.billing_mode
    ttl = tables["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}
    assert type(dynamo_models.IdempotencyModel.expires_at).__name__ == "TTLAttribute"


def test_schedule_and_stage(template):
    (event,) = template["Resources"]["SweepTimers"]["Properties"]["Events"].values()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}
    assert template["Parameters"]["Stage"]["AllowedValues"] == [PACKAGED_STAGE]
    for logical, function in _functions(template).items():
        assert function["Properties"]["Environment"]["Variables"]["STAGE"] == PACKAGED_STAGE, logical
        assert function["Properties"]["Runtime"] == "python3.11"


@pytest.mark.parametrize("stage", session.LOCAL_STAGES)
def test_no_stage_takes_a_name_the_app_reads_as_the_local_stack(stage):
    """The app takes STAGE local or test for the local stack (cookies without Secure, the development secret)."""
    with pytest.raises(SystemExit, match="local stack"):
        build_template.check_stage(stage)


def test_each_function_has_its_own_least_privilege_policy(template):
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert chalice_config["autogen_policy"] is False
    assert all(s.get("autogen_policy", False) is False for s in chalice_config["stages"].values())
    functions = _functions(template)
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(functions), "one role per function"
    for spec in build_template.FUNCTIONS:
        function = functions[spec.logical_id]
        role = template["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
        (policy,) = role["Properties"]["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        text = json.dumps(statements)
        assert '"*"' not in text and ":*\"" not in text, f"{spec.name}: no wildcard actions or resources"
        by_sid = {s["Sid"]: s for s in statements}
        assert by_sid["OwnLogs"]["Resource"] == {"Fn::GetAtt": [spec.log_group_id, "Arn"]}
        assert spec.log_group_id in function["DependsOn"]
        log_group = template["Resources"][spec.log_group_id]["Properties"]["LogGroupName"]
        assert _sub(log_group) == "/aws/lambda/" + function["Properties"]["FunctionName"]
        # Secrets: exactly the parameters named in the function's environment, and nothing else.
        variables = function["Properties"]["Environment"]["Variables"]
        named = sorted(v for k, v in variables.items() if k.endswith("_PARAM"))
        granted = sorted(r["Fn::Sub"].split(":parameter", 1)[1] for r in by_sid.get("ReadSecrets", {}).get(
            "Resource", []))
        assert granted == named, spec.name
        if spec.consumes:
            assert by_sid["ConsumeQueue"]["Resource"] == {"Fn::GetAtt": [SQS_FUNCTIONS[spec.logical_id], "Arn"]}
        else:
            assert "ConsumeQueue" not in by_sid
    api = functions["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert {"STRIPE_SECRET_KEY_PARAM", "STRIPE_WEBHOOK_SECRET_PARAM", "API_KEY_PEPPER_PARAM"} <= set(api)
    sweep = functions["SweepTimers"]["Properties"]["Environment"]["Variables"]
    assert not any(k.endswith("_PARAM") for k in sweep)
    for worker in ("PayoutsWorker", "RefundsWorker", "TimersWorker"):
        variables = functions[worker]["Properties"]["Environment"]["Variables"]
        assert "API_KEY_PEPPER_PARAM" not in variables and "STRIPE_WEBHOOK_SECRET_PARAM" not in variables


def test_every_secret_the_code_reads_is_provisioned(template):
    """A secret missing here would silently fall back to its local-development default once deployed."""
    read_by_code = set(re.findall(r'secret\("([A-Z0-9_]+)"', (ROOT / "chalicelib" / "config.py").read_text()))
    assert read_by_code == set(build_template.SECRETS)
    api = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert {f"{name}_PARAM" for name in read_by_code} <= set(api)
    assert set(deploy.GENERATED_SECRETS) | set(deploy.REQUIRED_SECRETS) | {"STRIPE_WEBHOOK_SECRET"} == read_by_code
    for function in _functions(template).values():
        variables = function["Properties"]["Environment"]["Variables"]
        if any(k.endswith("_PARAM") for k in variables):
            assert variables["SECRETS_VERSION"] == {"Ref": "SecretsVersion"}


def test_no_secret_value_in_the_template(template):
    text = json.dumps(template)
    assert not re.search(r"(sk|rk)_(test|live)_|whsec_", text)
    for function in _functions(template).values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert not set(variables) & set(build_template.SECRETS), "secrets are read from SSM at run time"
        for name, value in variables.items():
            if name.endswith("_PARAM"):
                assert value.startswith(f"/bounty-board/{PACKAGED_STAGE}/")


@pytest.mark.parametrize("stage", [PACKAGED_STAGE, "dev", "someone-else"])
def test_api_throttling_is_set_per_stage(template, stage):
    stages = json.loads((ROOT / "infra" / "stages.json").read_text())
    expected = {**stages["default"], **stages.get(stage, {})}
    api = template["Resources"]["RestAPI"] if stage == PACKAGED_STAGE else \
        build_template.merge_template(stage)["Resources"]["RestAPI"]
    (settings,) = api["Properties"]["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == expected["throttle_rate_limit"] > 0
    assert settings["ThrottlingBurstLimit"] == expected["throttle_burst_limit"] >= expected["throttle_rate_limit"]
    assert stages[PACKAGED_STAGE] != stages["default"], "the packaged stage should show a per-stage value"


def test_every_function_runs_with_the_stages_shard_settings(template, package_dir, monkeypatch):
    """Where open bounties and timers are stored is decided by two settings every function must agree on; the
    deploy reads them back from the package to move stored items when they change (test_ops_on_a_stage.py)."""
    stages = json.loads((ROOT / "infra" / "stages.json").read_text())
    expected = {**stages["default"], **stages.get(PACKAGED_STAGE, {})}
    for logical_id, function in _functions(template).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["OPEN_INDEX_SHARDS"] == str(expected["open_index_shards"]), logical_id
        assert variables["TIMER_SHARDS"] == str(expected["timer_shards"]), logical_id
        monkeypatch.setenv("OPEN_INDEX_SHARDS", variables["OPEN_INDEX_SHARDS"])
        monkeypatch.setenv("TIMER_SHARDS", variables["TIMER_SHARDS"])
        assert (config.open_index_shards(), config.timer_shards()) == (expected["open_index_shards"],
                                                                        expected["timer_shards"])
    assert deploy.packaged_shards(package_dir) == {"OPEN_INDEX_SHARDS": expected["open_index_shards"],
                                                   "TIMER_SHARDS": expected["timer_shards"]}
    # How long the deploy waits before moving again what calls begun under the old settings wrote.
    timeouts = [f["Properties"]["Timeout"] for f in _functions(template).values()]
    assert deploy.longest_timeout(package_dir) == max(timeouts) >= 29


@pytest.mark.parametrize("bad", [0, -1, 65, "4", 2.5, True, None])
def test_a_shard_setting_out_of_range_stops_the_packaging(bad, tmp_path, monkeypatch):
    _odd_stage({"timer_shards": bad}, tmp_path, monkeypatch)
    with pytest.raises(SystemExit, match="stage odd: timer_shards must be a whole number from 1 to 64"):
        build_template.merge_template("odd")
    _odd_stage({"timer_shards": 64, "open_index_shards": 2}, tmp_path, monkeypatch)
    assert build_template.shard_settings("odd") == {"OPEN_INDEX_SHARDS": "2", "TIMER_SHARDS": "64"}


def test_alarms_watch_dead_letters_and_failed_payouts(template, monkeypatch, capsys):
    from chalicelib import observability

    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    watched_dlqs = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms.values()
                    if a["Properties"]["Namespace"] == "AWS/SQS"}
    assert watched_dlqs == {"PayoutsDeadLetterQueue", "RefundsDeadLetterQueue", "TimersDeadLetterQueue"}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # The payout alarm watches exactly the metric the code emits (EMF on stdout).
    monkeypatch.setenv("STAGE", PACKAGED_STAGE)
    capsys.readouterr()
    observability.count("PayoutsFailed")
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    payouts = template["Resources"]["PayoutsFailedAlarm"]["Properties"]
    assert payouts["Namespace"] == directive["Namespace"] == "BountyBoard"
    assert payouts["MetricName"] == directive["Metrics"][0]["Name"] == "PayoutsFailed"
    dimensions = {d["Name"]: d["Value"] for d in payouts["Dimensions"]}
    assert set(dimensions) == set(directive["Dimensions"][0])
    assert {k: v.get("Ref") for k, v in dimensions.items()} == {"service": "Stage"}
    assert {k: emf[k] for k in dimensions} == {"service": PACKAGED_STAGE}
    # So does the alarm on a duplicate payment Stripe would not refund (money a person must return).
    stray = template["Resources"]["StrayPaymentRefundsRefusedAlarm"]["Properties"]
    assert (stray["Namespace"], stray["MetricName"], stray["Dimensions"]) == (
        "BountyBoard", "StrayPaymentRefundsRefused", payouts["Dimensions"])
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Condition"] == "HasAlarmEmail"


def test_a_function_that_keeps_failing_and_an_api_answering_5xx_are_alarmed(template):
    """The sweep has no queue and no DLQ: failing every minute, it would stop every timer without a word. A worker
    killed by its timeout or a crash reaches its DLQ alarm only after 5 visibility timeouts (75 min for payouts)."""
    alarms = [a["Properties"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()]
    by_function = {}
    for alarm in (a for a in alarms if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"):
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "FunctionName"
        by_function[_sub(dimension["Value"])] = alarm
    assert set(by_function) == {f["Properties"]["FunctionName"] for f in _functions(template).values()}
    for alarm in by_function.values():
        # Errors in 3 of the last 5 minutes: a sweep run or a request that failed once (a blip) pages nobody.
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Sum", 1, "GreaterThanOrEqualToThreshold")
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 5, 3)
        assert alarm["TreatMissingData"] == "notBreaching"  # a worker with no messages runs no invocation
    (answers,) = [a for a in alarms if a["Namespace"] == "AWS/ApiGateway"]
    assert answers["MetricName"] == "5XXError" and answers["Statistic"] == "Average"  # the share of requests
    dimensions = {d["Name"]: d["Value"] for d in answers["Dimensions"]}
    api = template["Resources"]["RestAPI"]["Properties"]
    assert set(dimensions) == {"ApiName", "Stage"}, "the dimensions API Gateway gives a REST API's metrics"
    assert (_sub(dimensions["ApiName"]), dimensions["Stage"]) == (api["Name"], api["StageName"])
    other = build_template.merge_template("dev")["Resources"]["RestAPI"]["Properties"]["Name"]
    assert other != api["Name"], "one stage's alarm must not count another stage's answers"


def test_a_sweep_that_stops_running_is_alarmed(template):
    """A schedule disabled or deleted raises no error: the sweep just stops, and with it every timer. Missing data
    is what that looks like (no invocation, no data point), so it counts as breaching."""
    alarms = [a["Properties"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()]
    (alarm,) = [a for a in alarms if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Invocations"]
    (dimension,) = alarm["Dimensions"]
    sweep = [f["Properties"]["FunctionName"] for f in _functions(template).values()
             if f["Properties"]["FunctionName"].endswith("sweep_timers")]
    assert [_sub(dimension["Value"])] == sweep
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == ("Sum", 1, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "breaching"
    # Ten minutes without a run: the schedule fires every minute, so a late run or two alarms nobody.
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 600 and alarm["DatapointsToAlarm"] == 2
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_outputs_give_the_api_and_webhook_urls(template):
    outputs = template["Outputs"]
    assert outputs["ApiUrl"]["Value"]["Fn::Sub"].endswith(".${AWS::URLSuffix}/api")
    assert outputs["StripeWebhookUrl"]["Value"]["Fn::Sub"] == outputs["ApiUrl"]["Value"]["Fn::Sub"] + \
        "/v1/webhooks/stripe"
    assert template["Resources"]["RestAPI"]["Properties"]["StageName"] == "api"


def test_api_gateways_own_refusals_answer_in_the_error_shape(template):
    """API Gateway answers some requests itself, before any function runs (no route for the method and path,
    throttling, an oversized body): those answers too are {"error": {"code", "message"}}."""
    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(responses) >= {"MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    for kind, response in responses.items():
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'", kind
        # API Gateway puts the message in as a quoted JSON string.
        body = response["ResponseTemplates"]["application/json"].replace("$context.error.messageString",
                                                                         json.dumps('Too "many" requests'))
        answer = json.loads(body)
        assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, kind
        assert answer["error"]["code"] and answer["error"]["message"], kind
