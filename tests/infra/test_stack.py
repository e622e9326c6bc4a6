"""The stateful half of infra/ as a real stack in moto's CloudFormation, checked against the code; and the
deploy/destroy scripts run against moto as they would against AWS (deploy in its dry-run mode: moto cannot
create the SAM/API Gateway half)."""

from __future__ import annotations

import json

import pytest

from chalicelib import config
from chalicelib.adapters import dynamo_models
from infra import build_template, deploy

from .conftest import PACKAGED_STAGE, ROOT, run_script

STAGE = "moto"
# moto's CloudFormation skips these types (with a warning); test_alarms_create_as_written puts the alarms
# through the CloudWatch API instead, with the values CloudFormation would resolve.
MOTO_CANNOT_CREATE = {"AWS::CloudWatch::Alarm", "AWS::SNS::Subscription"}


def _create_stateful_stack(aws, stage: str = STAGE, email: str = "ops@example.com") -> dict:
    """infra/resources.json deployed the way deploy.py deploys: uploaded to S3, then create-or-update."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key=f"{stage}/resources.json", Body=(ROOT / "infra/resources.json").read_bytes())
    url = f"https://s3.amazonaws.com/artifacts/{stage}/resources.json"
    return deploy.deploy_stack(aws.client("cloudformation"), deploy.stack_name(stage), url,
                               {"Stage": stage, "AlarmEmail": email})


def _keys(schema: list[dict]) -> list[tuple[str, str]]:
    return sorted((k["KeyType"], k["AttributeName"]) for k in schema)  # HASH before RANGE


def _as_created(model) -> dict:
    """What PynamoDB itself would create for `model` (its create_table request), in comparable form."""
    schema = model._get_schema()
    return {
        "keys": _keys(schema["key_schema"]),
        "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]),
        "indexes": {i["index_name"]: (_keys(i["key_schema"]), i["projection"]["ProjectionType"])
                    for i in schema["global_secondary_indexes"]},
        "local_indexes": schema["local_secondary_indexes"],
    }


def test_stateful_stack_creates_and_matches_the_code(aws, resources_template, monkeypatch):
    stack = _create_stateful_stack(aws)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    summaries = aws.client("cloudformation").list_stack_resources(StackName=stack["StackName"])
    created = [r["LogicalResourceId"] for r in summaries["StackResourceSummaries"]]
    declared = resources_template["Resources"]
    skipped = {k for k in declared if declared[k]["Type"] in MOTO_CANNOT_CREATE}
    assert set(created) - {""} == set(declared) - skipped
    assert created.count("") == len(skipped), "moto lists what it skipped without a name; nothing else is skipped"

    # Tables: names, keys and indexes exactly as the PynamoDB models expect them.
    monkeypatch.setenv("STAGE", STAGE)
    monkeypatch.delenv("TABLE_PREFIX", raising=False)
    dynamodb = aws.client("dynamodb")
    prefix = config.table_prefix()
    assert prefix == f"bounty-{STAGE}-"
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(prefix + m.entity for m in dynamo_models.ALL_MODELS)
    for model in dynamo_models.ALL_MODELS:  # the names dynamo_models.bind() gives them (not called: it is global)
        table = dynamodb.describe_table(TableName=prefix + model.entity)["Table"]
        deployed = {
            "keys": _keys(table["KeySchema"]),
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
            "indexes": {i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                        for i in table.get("GlobalSecondaryIndexes", [])},
            "local_indexes": table.get("LocalSecondaryIndexes", []),
        }
        assert deployed == _as_created(model), model.entity
        assert table["BillingModeSummary"]["BillingMode"] == model.Meta.billing_mode


def test_queues_fit_the_handlers(aws, template, monkeypatch):
    _create_stateful_stack(aws)
    monkeypatch.setenv("STAGE", STAGE)
    monkeypatch.delenv("QUEUE_PREFIX", raising=False)
    monkeypatch.delenv("MAX_RECEIVE_COUNT", raising=False)
    sqs = aws.client("sqs")
    timeouts = {"payouts": template["Resources"]["PayoutsWorker"]["Properties"]["Timeout"],
                "refunds": template["Resources"]["RefundsWorker"]["Properties"]["Timeout"],
                "timers": template["Resources"]["TimersWorker"]["Properties"]["Timeout"]}
    for kind, name in (("payouts", config.payouts_queue_name()), ("refunds", config.refunds_queue_name()),
                       ("timers", config.timers_queue_name())):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert int(attributes["VisibilityTimeout"]) >= timeouts[kind]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == config.max_receive_count()
        assert redrive["deadLetterTargetArn"].endswith(f":{name}-dlq")
        dlq = sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_retention = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["MessageRetentionPeriod"])
        assert int(dlq_retention["Attributes"]["MessageRetentionPeriod"]) > int(attributes["MessageRetentionPeriod"])


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue(aws, monkeypatch):
    _create_stateful_stack(aws)
    monkeypatch.delenv("MAX_RECEIVE_COUNT", raising=False)
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"bounty-{STAGE}-payouts")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"payout_id": "pay_x"}')
    for _ in range(config.max_receive_count()):
        (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    dlq = sqs.get_queue_url(QueueName=f"bounty-{STAGE}-payouts-dlq")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == '{"payout_id": "pay_x"}'


def test_alarms_create_as_written(aws, resources_template):
    """The alarms' properties, resolved against the created stack, are accepted by CloudWatch."""
    stack = _create_stateful_stack(aws)
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in aws.client("cloudformation")
                .list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]}
    topic_arn = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["AlarmTopicArn"]

    def resolve(value):
        if isinstance(value, dict) and "Fn::Sub" in value:
            return value["Fn::Sub"].replace("${Stage}", STAGE)
        if isinstance(value, dict) and value.get("Ref") == "AlarmTopic":
            return topic_arn
        if isinstance(value, dict) and value.get("Ref") == "Stage":
            return STAGE
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            assert attribute == "QueueName"
            return physical[logical].rsplit("/", 1)[-1]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    cloudwatch = aws.client("cloudwatch")
    alarms = {k: v for k, v in resources_template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    for alarm in alarms.values():
        cloudwatch.put_metric_alarm(**resolve(alarm["Properties"]))
    described = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    failing = {f"bounty-{STAGE}-{f.name.replace('_', '-')}-failing" for f in build_template.FUNCTIONS}
    assert set(described) == {f"bounty-{STAGE}-{k}-dlq-not-empty" for k in ("payouts", "refunds", "timers")} | {
        f"bounty-{STAGE}-payouts-failed", f"bounty-{STAGE}-stray-payment-refunds-refused",
        f"bounty-{STAGE}-api-5xx", f"bounty-{STAGE}-sweep-timers-not-running"} | failing
    sqs = aws.client("sqs")
    watched_functions = set()
    for alarm in described.values():
        assert alarm["AlarmActions"] == [topic_arn]
        if alarm["Namespace"] == "AWS/SQS":
            (dimension,) = alarm["Dimensions"]
            sqs.get_queue_url(QueueName=dimension["Value"])  # a queue that exists
            assert dimension["Value"].endswith("-dlq")
        if alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == "Errors":
            (dimension,) = alarm["Dimensions"]
            watched_functions.add(dimension["Value"])
            assert alarm["DatapointsToAlarm"] == 3 and alarm["EvaluationPeriods"] == 5
        if alarm["Namespace"] == "AWS/ApiGateway":
            assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
                "ApiName": build_template.api_name(STAGE), "Stage": build_template.API_STAGE}
    # The names the functions are deployed under (moto cannot create them: infra/build_template.py names them).
    assert watched_functions == {build_template.function_name(STAGE, f) for f in build_template.FUNCTIONS}


def test_update_with_nothing_changed_is_fine(aws):
    first = _create_stateful_stack(aws)
    again = _create_stateful_stack(aws)
    assert again["StackId"] == first["StackId"]
    assert again["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def test_deploy_dry_run_checks_everything_and_changes_nothing(aws, package_dir):
    """What `make deploy STAGE=prod DRY_RUN=1` runs: package (reused here), secrets, bucket, plan."""
    ssm = aws.client("ssm")
    refused = run_script("deploy.sh", "--dry-run", "--package-dir", str(package_dir),
                         env=aws.env(STAGE=PACKAGED_STAGE))
    assert refused.returncode != 0
    assert "STRIPE_SECRET_KEY" in refused.stderr

    secret = "sk_test_not_to_be_printed_123"
    # As the guide runs it: `STRIPE_SECRET_KEY=... ALARM_EMAIL=... make deploy STAGE=prod DRY_RUN=1`, the region
    # in AWS_REGION (which botocore alone does not read)
    env = aws.env(STAGE=PACKAGED_STAGE, STRIPE_SECRET_KEY=secret, ALARM_EMAIL="ops@example.com", DRY_RUN="1")
    env["AWS_REGION"] = env.pop("AWS_DEFAULT_REGION")
    result = run_script("deploy.sh", "--package-dir", str(package_dir), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"in {env['AWS_REGION']}" in out
    assert secret not in out + result.stderr
    assert f"would create stack bounty-board-{PACKAGED_STAGE}" in out
    assert f"would store STRIPE_SECRET_KEY as SecureString /bounty-board/{PACKAGED_STAGE}/stripe-secret-key" in out
    assert "would store API_KEY_PEPPER" in out and "STRIPE_WEBHOOK_SECRET: not stored yet" in out
    assert "AlarmEmail='ops@example.com'" in out
    assert ssm.describe_parameters()["Parameters"] == []
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []
    uploaded = json.loads((package_dir / "deploy-template.json").read_text())
    assert all(f["Properties"]["CodeUri"]["Key"].endswith(".zip") for f in uploaded["Resources"].values()
               if f["Type"] == "AWS::Serverless::Function")

    wrong_stage = run_script("deploy.sh", "--dry-run", "--package-dir", str(package_dir),
                             env=aws.env(STAGE="other", STRIPE_SECRET_KEY=secret))
    assert wrong_stage.returncode != 0 and "packaged for stage" in wrong_stage.stderr


def test_deploy_stores_secrets_and_uploads_artifacts(aws, package_dir, capsys):
    ssm, s3 = aws.client("ssm"), aws.client("s3")
    environ = {"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_WEBHOOK_SECRET": "whsec_abc"}
    assert deploy.store_secrets(ssm, STAGE, environ, dry_run=False) == []
    stored = {p["Name"]: p["Type"] for p in ssm.describe_parameters()["Parameters"]}
    assert stored == {build_template.secret_parameter(STAGE, s): "SecureString" for s in build_template.SECRETS}
    pepper = ssm.get_parameter(Name=build_template.secret_parameter(STAGE, "API_KEY_PEPPER"), WithDecryption=True)
    assert len(pepper["Parameter"]["Value"]) >= 32
    # A later deploy without the secrets in the environment keeps the stored ones (and the pepper).
    version = deploy.secrets_version(ssm, STAGE)
    assert deploy.store_secrets(ssm, STAGE, {}, dry_run=False) == []
    assert deploy.secrets_version(ssm, STAGE) == version
    # A new value changes the version the functions' environment carries, so their containers are replaced.
    deploy.store_secrets(ssm, STAGE, {"STRIPE_SECRET_KEY": "sk_test_new"}, dry_run=False)
    assert deploy.secrets_version(ssm, STAGE) != version
    # The same value left exported stores nothing new: no new version, so no function is replaced (cold starts).
    version = deploy.secrets_version(ssm, STAGE)
    deploy.store_secrets(ssm, STAGE, {"STRIPE_SECRET_KEY": "sk_test_new"}, dry_run=False)
    assert deploy.secrets_version(ssm, STAGE) == version
    again = ssm.get_parameter(Name=build_template.secret_parameter(STAGE, "API_KEY_PEPPER"), WithDecryption=True)
    assert again["Parameter"]["Value"] == pepper["Parameter"]["Value"]
    assert "sk_test_abc" not in capsys.readouterr().out

    deploy.ensure_bucket(s3, "artifacts-bucket", "us-east-1", dry_run=False)
    url = deploy.upload_artifacts(s3, "artifacts-bucket", "us-east-1", PACKAGED_STAGE, package_dir, dry_run=False)
    key = url.split("/artifacts-bucket/", 1)[1]
    template = json.loads(s3.get_object(Bucket="artifacts-bucket", Key=key)["Body"].read())
    code = {json.dumps(f["Properties"]["CodeUri"], sort_keys=True) for f in template["Resources"].values()
            if f["Type"] == "AWS::Serverless::Function"}
    (only,) = code
    location = json.loads(only)
    head = s3.head_object(Bucket=location["Bucket"], Key=location["Key"])
    assert head["ContentLength"] == (package_dir / "deployment.zip").stat().st_size


def test_destroy_keeps_tables_unless_asked(aws, package_dir):
    stage = PACKAGED_STAGE  # so deploy.sh can use the package of this run
    _create_stateful_stack(aws, stage)
    deploy.store_secrets(aws.client("ssm"), stage, {"STRIPE_SECRET_KEY": "sk_test_abc"}, dry_run=False)
    dynamodb, cfn = aws.client("dynamodb"), aws.client("cloudformation")
    tables = sorted(dynamodb.list_tables()["TableNames"])
    assert len(tables) == len(dynamo_models.ALL_MODELS)

    dry = run_script("destroy.sh", "--dry-run", env=aws.env(STAGE=stage))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"would delete stack bounty-board-{stage}" in dry.stdout
    assert deploy.describe_stack(cfn, deploy.stack_name(stage)) is not None

    result = run_script("destroy.sh", env=aws.env(STAGE=stage))
    assert result.returncode == 0, result.stdout + result.stderr
    assert deploy.describe_stack(cfn, deploy.stack_name(stage)) is None
    assert sorted(dynamodb.list_tables()["TableNames"]) == tables
    assert aws.client("sqs").list_queues().get("QueueUrls") is None
    assert aws.client("ssm").describe_parameters()["Parameters"], "secrets are kept too"

    # The API-key pepper goes only with the tables: kept data needs it, or every stored key fails for good.
    stored = aws.client("ssm").describe_parameters()["Parameters"]
    pepperless = run_script("destroy.sh", env=aws.env(STAGE=stage, DELETE_SECRETS="1"))
    assert pepperless.returncode != 0 and "pepper" in pepperless.stderr, pepperless.stdout + pepperless.stderr
    assert aws.client("ssm").describe_parameters()["Parameters"] == stored
    pepper = build_template.secret_parameter(stage, "API_KEY_PEPPER")
    kept_pepper = aws.client("ssm").get_parameter(Name=pepper, WithDecryption=True)["Parameter"]["Value"]
    aws.client("ssm").delete_parameter(Name=pepper)  # lost some other way: a deploy will not make a new one
    with pytest.raises(deploy.DeployError, match="API_KEY_PEPPER is not stored"):
        deploy.store_secrets(aws.client("ssm"), stage, {}, dry_run=False, has_data=True)
    deploy.store_secrets(aws.client("ssm"), stage, {"API_KEY_PEPPER": kept_pepper}, dry_run=False, has_data=True)

    # A new deploy notices the kept tables up front instead of failing half-way on "already exists".
    args = ("--dry-run", "--package-dir", str(package_dir))
    blocked = run_script("deploy.sh", *args, env=aws.env(STAGE=stage))
    assert blocked.returncode != 0
    assert "ADOPT_TABLES=1" in blocked.stderr and "DELETE_TABLES=1" in blocked.stderr
    adopt = run_script("deploy.sh", *args, env=aws.env(STAGE=stage, ADOPT_TABLES="1"))
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    assert "would import the kept tables" in adopt.stdout

    # The kept tables refuse a plain delete (deletion protection); DELETE_TABLES=1 switches it off first.
    with pytest.raises(dynamodb.exceptions.ClientError, match="DeletionProtectionEnabled"):
        dynamodb.delete_table(TableName=tables[0])
    result = run_script("destroy.sh", env=aws.env(STAGE=stage, DELETE_TABLES="1", DELETE_SECRETS="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert dynamodb.list_tables()["TableNames"] == []
    assert aws.client("ssm").describe_parameters()["Parameters"] == []


def test_import_plan_names_every_kept_table(resources_template):
    tables = deploy.table_names(STAGE)
    template, to_import = deploy.import_plan(STAGE, tables)
    assert set(template["Resources"]) == {k for k, v in resources_template["Resources"].items()
                                          if v["Type"] == "AWS::DynamoDB::Table"}
    assert all(r["DeletionPolicy"] == "Retain" for r in template["Resources"].values())
    assert {i["ResourceIdentifier"]["TableName"] for i in to_import} == {
        f"bounty-{STAGE}-{m.entity}" for m in dynamo_models.ALL_MODELS}


def test_a_later_deploy_keeps_what_the_earlier_one_set():
    stack = {"Parameters": [{"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.com"},
                            {"ParameterKey": "PublicBaseUrl", "ParameterValue": "https://bounties.example.com"}],
             "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://abc.execute-api.example/api"}]}
    assert deploy.stack_parameters("dev", stack, {}, "2.1.1.1") == {
        "Stage": "dev", "AlarmEmail": "ops@example.com", "PublicBaseUrl": "https://bounties.example.com",
        "SecretsVersion": "2.1.1.1"}
    assert deploy.stack_parameters("dev", stack, {"ALARM_EMAIL": ""})["AlarmEmail"] == ""
    fresh = {"Outputs": stack["Outputs"]}
    assert deploy.stack_parameters("dev", fresh, {})["PublicBaseUrl"] == "https://abc.execute-api.example/api"
    # Given empty, it leaves the custom domain for the API's own URL (it used to keep the domain for good).
    assert deploy.stack_parameters("dev", stack, {"PUBLIC_BASE_URL": ""})["PublicBaseUrl"] == (
        "https://abc.execute-api.example/api")
    assert deploy.stack_parameters("dev", None, {}) == {"Stage": "dev", "AlarmEmail": "", "PublicBaseUrl": "",
                                                         "SecretsVersion": "0"}


def test_the_deploy_says_which_events_each_webhook_endpoint_needs(capsys):
    """What step 6 of docs/DEPLOY.md says: two endpoints, and only the events the code acts on."""
    stack = {"Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://api.example/api"},
                         {"OutputKey": "StripeWebhookUrl", "OutputValue": "https://api.example/api/v1/webhooks/stripe"}]}
    deploy.report("dev", stack, ["STRIPE_WEBHOOK_SECRET"], {})
    said = capsys.readouterr().out
    from chalicelib.api.routes_webhooks import HANDLERS

    for event in HANDLERS:
        assert event in said
    assert "connected accounts:  account.updated" in said and "charge.refunded" not in said
    assert "whsec_platform...,whsec_connect..." in said


def test_tables_a_failed_first_deploy_left_make_no_earlier_release_to_upgrade():
    """A retried first deploy finds the tables its rollback kept; they hold nothing of an earlier release, so the
    upgrade steps are recorded, not run over them (minutes of waiting for nothing)."""
    assert deploy.is_new_stage(kept_tables=False, after_failed_first_deploy=False, upgrades_recorded=False)
    assert deploy.is_new_stage(kept_tables=True, after_failed_first_deploy=True, upgrades_recorded=False)
    # Kept by a destroy (a deploy once succeeded, and recorded its steps), or adopted after one: not new.
    assert not deploy.is_new_stage(kept_tables=True, after_failed_first_deploy=False, upgrades_recorded=True)
    assert not deploy.is_new_stage(kept_tables=True, after_failed_first_deploy=True, upgrades_recorded=True)


def test_adopted_tables_made_before_deletion_protection_get_it(aws):
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(TableName="bounty-old-ledger", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    deploy.protect_tables(dynamodb, ["bounty-old-ledger"])
    assert dynamodb.describe_table(TableName="bounty-old-ledger")["Table"]["DeletionProtectionEnabled"] is True
    deploy.protect_tables(dynamodb, ["bounty-old-ledger"])  # already on: nothing to do


def test_a_stack_cloudformation_takes_no_update_from_is_refused_saying_what_to_do():
    assert deploy.why_not_deployable(None) is None
    for fine in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE"):
        assert deploy.why_not_deployable(fine) is None, fine  # ROLLBACK_COMPLETE: the deploy deletes it itself
    assert "wait" in deploy.why_not_deployable("UPDATE_IN_PROGRESS")
    assert "Continue update rollback" in deploy.why_not_deployable("UPDATE_ROLLBACK_FAILED")
    assert "ADOPT_TABLES=1" in deploy.why_not_deployable("ROLLBACK_FAILED")
    assert "Delete the stack again" in deploy.why_not_deployable("DELETE_FAILED")
    for stuck in ("IMPORT_ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"):  # an import that did not end: never "busy"
        assert "ADOPT_TABLES=1" in deploy.why_not_deployable(stuck), stuck
    assert deploy.why_not_deployable("IMPORT_ROLLBACK_COMPLETE") is None  # deleted by the deploy, as below
    assert set(deploy.FAILED_STATES) == {"ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
