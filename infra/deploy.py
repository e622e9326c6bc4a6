"""Deploys one stage to AWS: package, secrets, artifacts to S3, then create or update the CloudFormation stack.

Usage: python -m infra.deploy --stage dev [--dry-run]     (or: make deploy STAGE=dev)

Reads from the environment (all optional except where said):
  AWS credentials and AWS_REGION/AWS_DEFAULT_REGION   as for the AWS CLI (profiles work: AWS_PROFILE)
  STRIPE_SECRET_KEY       stored as SSM SecureString /bounty-board/<stage>/stripe-secret-key; required on the
                          first deploy of a stage, afterwards only to change it
  STRIPE_WEBHOOK_SECRET   the signing secret Stripe shows for the webhook endpoint (whsec_...); stored likewise
  API_KEY_PEPPER, WEB_SESSION_SECRET   generated on the first deploy when not given
  ALARM_EMAIL             where alarm notifications go (SNS e-mail subscription)
  PUBLIC_BASE_URL         the URL people use (a custom domain); default: the API Gateway URL
  DEPLOY_BUCKET           S3 bucket for the artifacts; default bounty-board-deploy-<account>-<region>, created
  ADOPT_TABLES=1          take over tables kept by an earlier `make destroy` (CloudFormation resource import)
  DRY_RUN=1               same as --dry-run: package, check, print the plan; change nothing on AWS

Per-stage settings (API throttling, shard counts, the Stripe workers' concurrency) are in infra/stages.json. After
the stack update the deploy runs the release's upgrade steps of stored items, and moves open bounties and timers when
a shard count changed.

Secrets go to SSM Parameter Store and are read by the functions at run time: never into the template,
the package or this script's output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from chalicelib.ports import WEBHOOK_EVENTS
from infra import build_template, honour_aws_region
from infra.package import ROOT, package

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
SECRET_ENV = tuple(build_template.SECRETS)
GENERATED_SECRETS = ("API_KEY_PEPPER", "WEB_SESSION_SECRET")
DATA_BOUND_SECRETS = ("API_KEY_PEPPER",)  # stored data depends on it (keys' hashes): never generated anew over data
REQUIRED_SECRETS = ("STRIPE_SECRET_KEY",)
# A first create, or a first import of kept tables, that failed and rolled back: nothing usable in it (the tables
# are kept), so the deploy deletes it and starts again.
FAILED_STATES = ("ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
# States CloudFormation takes no update from until someone acts, with what to do: the deploy stops there, saying it.
STUCK_STATES = {
    "UPDATE_ROLLBACK_FAILED": "an update failed and so did its rollback. Continue the rollback (CloudFormation "
                              "console: the stack, Stack actions, Continue update rollback; skip the resources it "
                              "names if it fails again), then deploy again",
    "ROLLBACK_FAILED": "a first deploy failed and so did its rollback. Delete the stack (CloudFormation console: "
                       "Delete; the tables are kept, deletion protection on), then deploy again with "
                       "ADOPT_TABLES=1",
    "IMPORT_ROLLBACK_FAILED": "an import of kept tables failed and so did its rollback. Delete the stack "
                              "(CloudFormation console: Delete, keeping the tables it offers to retain), then deploy "
                              "again with ADOPT_TABLES=1",
    "REVIEW_IN_PROGRESS": "a first deploy's import of kept tables stopped before it ran (the stack holds nothing "
                          "yet, the tables are untouched). Delete the stack (CloudFormation console: Delete), then "
                          "deploy again with ADOPT_TABLES=1",
    "DELETE_FAILED": "a delete failed. Delete the stack again from the CloudFormation console (the reason is in its "
                     "events), then deploy again (ADOPT_TABLES=1 if tables were kept)",
}


class DeployError(SystemExit):
    pass


def caller_account(session) -> str:
    """The account the credentials belong to. It is the first AWS call of a deploy or a destroy, so missing or
    refused credentials are told here as a sentence that says what to set, not as botocore's traceback."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return session.client("sts").get_caller_identity()["Account"]
    except NoCredentialsError as error:
        raise DeployError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                          "(docs/DEPLOY.md, step 3)") from error
    except (BotoCoreError, ClientError) as error:
        raise DeployError(f"AWS did not accept the credentials ({error}): check them, or sign in to the "
                          f"profile again (docs/DEPLOY.md, step 3)") from error


def stack_name(stage: str) -> str:
    return f"bounty-board-{stage}"


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "y")


def say(message: str) -> None:
    print(message, flush=True)


# ---- secrets -----------------------------------------------------------------------------------------

def _parameter_exists(ssm, name: str) -> bool:
    try:
        ssm.get_parameter(Name=name)  # no decryption: existence only
        return True
    except ssm.exceptions.ParameterNotFound:
        return False


def _stored_value(ssm, name: str) -> str:
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def store_secrets(ssm, stage: str, environ: dict, *, dry_run: bool, has_data: bool = False) -> list[str]:
    """Writes the secrets given in `environ` to SSM (SecureString); generates missing ones we can generate.
    Returns the names of secrets still missing (the webhook secret before Stripe knows the endpoint).
    `has_data`: the stage's tables exist (kept by an earlier destroy): a new pepper would orphan every stored key."""
    missing = []
    for env_name in SECRET_ENV:
        name = build_template.secret_parameter(stage, env_name)
        value = environ.get(env_name)
        exists = _parameter_exists(ssm, name)
        if not value and not exists and env_name in DATA_BOUND_SECRETS and has_data:
            raise DeployError(
                f"{env_name} is not stored ({name}), but the tables of stage {stage} hold data whose API keys were "
                f"hashed with it: a new one would make every stored key fail for good. Set {env_name} to the value "
                f"the stage had, or drop the tables (make destroy STAGE={stage} DELETE_TABLES=1)")
        if not value and not exists and env_name in GENERATED_SECRETS:
            value = secrets.token_urlsafe(32)
        if value and exists and _stored_value(ssm, name) == value:
            say(f"  {env_name}: the stored {name} is already this value")  # no new version: no cold starts
            continue
        if value:
            verb = "would store" if dry_run else "storing"
            say(f"  {verb} {env_name} as SecureString {name}" + (" (replacing the stored one)" if exists else ""))
            if not dry_run:
                ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True,
                                  Description=f"bounty-board {stage}: {env_name}")
        elif exists:
            say(f"  {env_name}: using the stored {name}")
        elif env_name in REQUIRED_SECRETS:
            raise DeployError(f"{env_name} is not stored in SSM ({name}) and not set in the environment: "
                              f"set {env_name}=sk_... for the first deploy of stage {stage}")
        else:
            say(f"  {env_name}: not stored yet ({name}); the deploy prints how to add it")
            missing.append(env_name)
    return missing


def secrets_version(ssm, stage: str) -> str:
    """The stored secrets' SSM versions, e.g. '2.1.1.1' (0 for a missing one): changes when any value does."""
    versions = []
    for env_name in SECRET_ENV:
        try:
            versions.append(str(ssm.get_parameter(Name=build_template.secret_parameter(stage, env_name))
                                ["Parameter"]["Version"]))
        except ssm.exceptions.ParameterNotFound:
            versions.append("0")
    return ".".join(versions)


# ---- artifacts ---------------------------------------------------------------------------------------

def default_bucket(account: str, region: str) -> str:
    return f"bounty-board-deploy-{account}-{region}"


def ensure_bucket(s3, bucket: str, region: str, *, dry_run: bool) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if dry_run:
        say(f"  would create the artifact bucket s3://{bucket}")
        return
    say(f"  creating the artifact bucket s3://{bucket}")
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **kwargs)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def point_code_at(template: dict, bucket: str, key: str) -> dict:
    """The template with every function's CodeUri moved from ./deployment.zip to the uploaded object."""
    result = json.loads(json.dumps(template))
    for resource in result["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return result


def upload_artifacts(s3, bucket: str, region: str, stage: str, package_dir: Path, *, dry_run: bool) -> str:
    """Uploads the zip and the template (too big to pass inline); returns the template's URL."""
    code = (package_dir / "deployment.zip").read_bytes()
    code_key = f"{stage}/{_digest(code)}.zip"
    template = point_code_at(json.loads((package_dir / "sam.json").read_text()), bucket, code_key)
    body = json.dumps(template, indent=1, sort_keys=True).encode()
    (package_dir / "deploy-template.json").write_bytes(body)
    template_key = f"{stage}/{_digest(body)}.template.json"
    verb = "would upload" if dry_run else "uploading"
    say(f"  {verb} s3://{bucket}/{code_key} ({len(code) / 1e6:.1f} MB) and s3://{bucket}/{template_key}")
    if not dry_run:
        s3.put_object(Bucket=bucket, Key=code_key, Body=code)
        s3.put_object(Bucket=bucket, Key=template_key, Body=body)
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
    return f"https://{host}/{bucket}/{template_key}"


# ---- the stack ---------------------------------------------------------------------------------------

def describe_stack(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except cfn.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def _failure_reasons(cfn, name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except Exception:  # the stack may be gone already
        return ""
    failed = [f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
              if e.get("ResourceStatus", "").endswith("FAILED")]
    return "\n".join(failed[:10])


def _wait(cfn, waiter: str, name: str) -> None:
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 720})
    except WaiterError as error:
        raise DeployError(f"stack {name}: {error}\n{_failure_reasons(cfn, name)}") from error


def why_not_deployable(status: str | None) -> str | None:
    """What stands in the way of deploying over a stack in `status`, and what to do; None if nothing does."""
    if status in STUCK_STATES:
        return STUCK_STATES[status]
    if status and status.endswith("_IN_PROGRESS"):
        return "busy; wait for it to finish and run again"
    return None


def deploy_stack(cfn, name: str, template_url: str, parameters: dict[str, str]) -> dict:
    """Creates the stack or updates it (no changes is fine); waits; returns the stack's description."""
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    existing = describe_stack(cfn, name)
    if existing is None:
        say(f"  creating stack {name} (first deploy: about 5 minutes)")
        cfn.create_stack(StackName=name, TemplateURL=template_url, Parameters=params, Capabilities=CAPABILITIES,
                         Tags=[{"Key": "app", "Value": "bounty-board"}])
        _wait(cfn, "stack_create_complete", name)
    else:
        say(f"  updating stack {name}")
        try:
            cfn.update_stack(StackName=name, TemplateURL=template_url, Parameters=params, Capabilities=CAPABILITIES,
                             Tags=[{"Key": "app", "Value": "bounty-board"}])
        except cfn.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
            say("  no changes")
        else:
            _wait(cfn, "stack_update_complete", name)
    return describe_stack(cfn, name)


def table_names(stage: str) -> dict[str, str]:
    """Logical id -> table name of every table in infra/resources.json for `stage`."""
    resources = build_template.load_resources()["Resources"]
    return {logical: resource["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", stage)
            for logical, resource in resources.items() if resource["Type"] == "AWS::DynamoDB::Table"}


def existing_tables(dynamodb, stage: str) -> dict[str, str]:
    found = {}
    for logical, table in table_names(stage).items():
        try:
            dynamodb.describe_table(TableName=table)
            found[logical] = table
        except dynamodb.exceptions.ResourceNotFoundException:
            pass
    return found


def import_plan(stage: str, tables: dict[str, str]) -> tuple[dict, list[dict]]:
    """The template and ResourcesToImport that make kept tables the first resources of a new stack."""
    base = build_template.load_resources()
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": [stage]}},
        "Resources": {logical: base["Resources"][logical] for logical in tables},
    }
    to_import = [{"ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": logical,
                  "ResourceIdentifier": {"TableName": table}} for logical, table in tables.items()]
    return template, to_import


def protect_tables(dynamodb, tables) -> None:
    """Switches deletion protection on where it is off. An import takes the template's word for the tables'
    settings: made by a release before the protection, they would stay without it while the stack said otherwise."""
    for table in tables:
        if not dynamodb.describe_table(TableName=table)["Table"].get("DeletionProtectionEnabled"):
            dynamodb.update_table(TableName=table, DeletionProtectionEnabled=True)
            dynamodb.get_waiter("table_exists").wait(TableName=table)  # ACTIVE again before the import reads it


def adopt_tables(cfn, name: str, stage: str, tables: dict[str, str], dynamodb) -> None:
    template, to_import = import_plan(stage, tables)
    say(f"  importing {len(tables)} kept tables into a new stack {name}")
    protect_tables(dynamodb, tables.values())
    change_set = f"adopt-tables-{int(time.time())}"
    cfn.create_change_set(StackName=name, ChangeSetName=change_set, ChangeSetType="IMPORT",
                          TemplateBody=json.dumps(template), ResourcesToImport=to_import,
                          Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}])
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=name, ChangeSetName=change_set)
    except WaiterError as error:
        reason = cfn.describe_change_set(StackName=name, ChangeSetName=change_set).get("StatusReason", error)
        # The change set made the stack (empty, awaiting review): gone, it leaves the next deploy free to try again.
        cfn.delete_stack(StackName=name)
        _wait(cfn, "stack_delete_complete", name)
        raise DeployError(f"importing the kept tables into stack {name} was refused: {reason}\n"
                          f"The tables are untouched; fix that and deploy again, or drop them: "
                          f"make destroy STAGE={stage} DELETE_TABLES=1") from error
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    _wait(cfn, "stack_import_complete", name)


def stack_parameters(stage: str, stack: dict | None, environ: dict, secrets_version: str = "0") -> dict[str, str]:
    """The stack's parameters: from the environment when given there, else as the last deploy left them."""
    previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in (stack or {}).get("Parameters", [])}
    alarm_email = environ["ALARM_EMAIL"] if "ALARM_EMAIL" in environ else previous.get("AlarmEmail", "")
    # Given empty, PUBLIC_BASE_URL goes back from a custom domain to the API's own URL (as ALARM_EMAIL="" clears).
    given = environ["PUBLIC_BASE_URL"] if "PUBLIC_BASE_URL" in environ else previous.get("PublicBaseUrl")
    public_url = given or outputs(stack).get("ApiUrl", "")
    return {"Stage": stage, "AlarmEmail": alarm_email, "PublicBaseUrl": public_url, "SecretsVersion": secrets_version}


# ---- what the stage stored, brought up to this release --------------------------------------------------

# `python -m ops` steps that bring items an earlier release stored up to what this one reads (docs/OPERATIONS.md),
# in the order they were added. Each runs once per stage, after the stack update that the step needs.
UPGRADES = ("index-unpaid", "file-unfunded-expiry", "note-submissions", "copy-work", "end-cancelled-claims",
            "cancel-unpaid-intents", "index-reviews", "time-bounties", "index-search")
# Steps whose items a call of the earlier release, still running after the stack update, may write again without
# what the step gave them (a participant record without its list, a record without its copy, a cancel without the
# timer that ends its claims or the message that cancels its payment, work handed in without its client, an
# approval without the time it adds to its bounty, a bounty without its search text): run again once such calls
# have ended.
UPGRADES_AGAIN_AFTER_OLD_CALLS = ("note-submissions", "copy-work", "end-cancelled-claims", "cancel-unpaid-intents",
                                  "index-reviews", "time-bounties", "index-search")


def is_new_stage(*, kept_tables: bool, after_failed_first_deploy: bool, upgrades_recorded: bool) -> bool:
    """Whether the stage holds nothing of an earlier release (so its upgrade steps are recorded, not run): it has
    no tables, or only those a failed first deploy made, which recorded no upgrade steps (a deploy that succeeded
    always has). Running every step over such empty tables only cost minutes."""
    return not kept_tables or (after_failed_first_deploy and not upgrades_recorded)


def upgrades_parameter(stage: str) -> str:
    return f"/bounty-board/{stage}/upgrades-done"


def _upgrades_done(ssm, stage: str) -> set[str]:
    try:
        value = ssm.get_parameter(Name=upgrades_parameter(stage))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return set()
    return {step for step in value.split(",") if step}


def _run_ops(stage: str, environ: dict, args: list[str], what: str) -> None:
    """Runs `python -m ops --stage <stage> <args>` and prints what it says; a failure stops the deploy, naming the
    command to run again (the stack is deployed by then)."""
    shown = f"python -m ops --stage {stage} {' '.join(args)}"
    say(f"  {what}: {shown}")
    result = subprocess.run([sys.executable, "-m", "ops", "--stage", stage, *args], cwd=ROOT, env=environ,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"{what} failed (the stack itself is deployed):\n{result.stderr[-2000:]}\n"
                          f"Run it again: {shown}")
    say(f"    {result.stdout.strip()}")


def apply_upgrades(ssm, stage: str, environ: dict, *, new_stage: bool, dry_run: bool,
                   settle_seconds: float = 0.0) -> list[str]:
    """Runs each upgrade step this stage has not had yet and records it (an SSM parameter); returns the steps run.
    A new stage has stored nothing, so its steps are recorded without running. The steps of
    UPGRADES_AGAIN_AFTER_OLD_CALLS run again once `settle_seconds` (the longest function timeout) have passed."""
    done = _upgrades_done(ssm, stage)
    pending = [step for step in UPGRADES if step not in done]
    ran = []
    for step in [] if new_stage else pending:
        if dry_run:
            say(f"  would run the upgrade step: python -m ops --stage {stage} {step}")
            continue
        _run_ops(stage, environ, [step], f"the upgrade step {step}")
        ran.append(step)
    again = [step for step in ran if step in UPGRADES_AGAIN_AFTER_OLD_CALLS]
    if again:
        say(f"  waiting {settle_seconds:g} s for calls still running the earlier release to end")
        _wait_for_old_calls(settle_seconds)
        for step in again:
            _run_ops(stage, environ, [step], f"the upgrade step {step} (again, for what those calls wrote)")
    if pending and not dry_run:
        ssm.put_parameter(Name=upgrades_parameter(stage), Value=",".join(sorted(done | set(pending))), Type="String",
                          Overwrite=True)
    return ran


# ---- shard settings: where open bounties and timers are stored -----------------------------------------

RESHARD_COMMANDS = {"OPEN_INDEX_SHARDS": "reshard-open", "TIMER_SHARDS": "reshard-timers"}
# A stage deployed before its settings were recorded ran with a release's defaults, none above 4. Moving "from"
# more shards than were used only reads empty ones, so 4 is safe whatever the stage really had.
UNRECORDED_SHARDS = 4


def shards_parameter(stage: str) -> str:
    return f"/bounty-board/{stage}/shard-settings"


def packaged_shards(package_dir: Path) -> dict[str, int]:
    """The shard settings the package's functions run with (infra/stages.json when it was packaged)."""
    template = json.loads((package_dir / "sam.json").read_text())
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    return {env_name: int(variables[env_name]) for env_name in RESHARD_COMMANDS}


def _recorded_shards(ssm, stage: str) -> dict[str, int]:
    try:
        return json.loads(ssm.get_parameter(Name=shards_parameter(stage))["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return {}


def longest_timeout(package_dir: Path) -> int:
    """The longest any packaged function may run, in seconds."""
    template = json.loads((package_dir / "sam.json").read_text())
    return max(resource["Properties"].get("Timeout", 3) for resource in template["Resources"].values()
               if resource["Type"] == "AWS::Serverless::Function")


def _wait_for_old_calls(seconds: float) -> None:
    # Its own name so that a test can stand in for this wait alone: time.sleep is shared by every thread.
    time.sleep(seconds)


def apply_shard_settings(ssm, stage: str, environ: dict, shards: dict[str, int], *, new_stage: bool,
                         dry_run: bool, settle_seconds: float = 0.0) -> list[str]:
    """After the stack update: moves open bounties and timers to the shards the new settings give them, for each
    setting that changed since the last deploy (listings and the sweep read only the shards below the setting, so
    until then fewer shards hide bounties and stop timers). Records the settings in SSM; returns the commands run.
    A new stage has stored nothing, so it only records them.

    Calls that started before the update still run with the old settings for up to a function's timeout and may
    write under an old shard after the first move, so the move runs again once `settle_seconds` have passed."""
    recorded = {} if new_stage else _recorded_shards(ssm, stage)
    moves = []
    for env_name, command in RESHARD_COMMANDS.items():
        previous = recorded.get(env_name, UNRECORDED_SHARDS)
        if not new_stage and previous != shards[env_name]:
            moves.append((env_name, [command, "--from", str(previous), "--to", str(shards[env_name])]))
    if dry_run:
        for env_name, args in moves:
            say(f"  would move items to the new {env_name}: python -m ops --stage {stage} {' '.join(args)}")
        return []
    for second_pass in (False, True) if moves else ():
        if second_pass:
            say(f"  waiting {settle_seconds:g} s for calls still running with the old settings to end")
            _wait_for_old_calls(settle_seconds)
        # The command moves items to the shards it runs with: the new settings, whatever the environment says.
        with_new = {**environ, **{name: str(count) for name, count in shards.items()}}
        for env_name, args in moves:
            _run_ops(stage, with_new, args, f"moving items to the new {env_name}"
                                            + (" (again, for what those calls wrote)" if second_pass else ""))
    if recorded != shards:
        ssm.put_parameter(Name=shards_parameter(stage), Value=json.dumps(shards, sort_keys=True), Type="String",
                          Overwrite=True)
    return [args[0] for _, args in moves]


# ---- the whole deploy --------------------------------------------------------------------------------

def deploy(stage: str, *, dry_run: bool, environ: dict, package_dir: Path | None = None) -> int:
    import boto3

    build_template.check_stage(stage)
    session = boto3.session.Session(region_name=honour_aws_region(environ))
    region = session.region_name
    if not region:
        raise DeployError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile with a region)")
    name = stack_name(stage)
    say(f"{'DRY RUN: ' if dry_run else ''}deploying stage {stage} as stack {name} in {region}")

    account = caller_account(session)
    say(f"  AWS account {account}")
    if package_dir is None:
        package_dir = package(stage)
    packaged_for = json.loads((package_dir / "sam.json").read_text())["Parameters"]["Stage"].get("AllowedValues")
    if packaged_for != [stage]:
        raise DeployError(f"{package_dir} was packaged for stage {packaged_for}, not {stage}")
    shards = packaged_shards(package_dir)
    cfn = session.client("cloudformation")
    stack = describe_stack(cfn, name)
    status = (stack or {}).get("StackStatus")
    refusal = why_not_deployable(status)
    if refusal:
        raise DeployError(f"stack {name} is {status}: {refusal}.\n{_failure_reasons(cfn, name)}".rstrip())

    ssm = session.client("ssm")
    missing = store_secrets(ssm, stage, environ, dry_run=dry_run,
                            has_data=bool(existing_tables(session.client("dynamodb"), stage)))

    adopt = truthy(environ.get("ADOPT_TABLES"))
    new_stage = stack is None  # until tables kept by an earlier stack turn up below
    if status in FAILED_STATES:
        say(f"  stack {name} is {status} (a failed first deploy): {'would delete' if dry_run else 'deleting'} it")
        if not dry_run:
            cfn.delete_stack(StackName=name)
            _wait(cfn, "stack_delete_complete", name)
        stack = None
        adopt = True  # tables that attempt made (and its rollback kept) are ours
    if stack is None:
        kept = existing_tables(session.client("dynamodb"), stage)
        if kept and not adopt:
            raise DeployError(
                f"tables of stage {stage} exist without a stack (kept by an earlier destroy): "
                f"{', '.join(sorted(kept.values()))}.\n"
                f"Keep their data: make deploy STAGE={stage} ADOPT_TABLES=1\n"
                f"Or drop them:    make destroy STAGE={stage} DELETE_TABLES=1")
        new_stage = is_new_stage(kept_tables=bool(kept), after_failed_first_deploy=status in FAILED_STATES,
                                 upgrades_recorded=_parameter_exists(ssm, upgrades_parameter(stage)))
        if kept:
            if dry_run:
                say(f"  would import the kept tables {', '.join(sorted(kept.values()))}")
            else:
                adopt_tables(cfn, name, stage, kept, dynamodb=session.client("dynamodb"))

    s3 = session.client("s3")
    bucket = environ.get("DEPLOY_BUCKET") or default_bucket(account, region)
    ensure_bucket(s3, bucket, region, dry_run=dry_run)
    template_url = upload_artifacts(s3, bucket, region, stage, package_dir, dry_run=dry_run)

    parameters = stack_parameters(stage, stack, environ, secrets_version(ssm, stage))
    if dry_run:
        shown = ", ".join(f"{k}={v!r}" for k, v in parameters.items())
        say(f"  would {'update' if stack else 'create'} stack {name} from {template_url} with {shown}")
        apply_upgrades(ssm, stage, environ, new_stage=new_stage, dry_run=True)
        apply_shard_settings(ssm, stage, environ, shards, new_stage=new_stage, dry_run=True)
        say(f"DRY RUN complete: nothing was changed. The template is {package_dir / 'deploy-template.json'}")
        return 0

    # Without PUBLIC_BASE_URL the functions take their own URL from each request API Gateway hands them
    # (config.public_base_url), so one stack operation is the whole deploy.
    stack = deploy_stack(cfn, name, template_url, parameters)
    apply_upgrades(ssm, stage, environ, new_stage=new_stage, dry_run=False, settle_seconds=longest_timeout(package_dir))
    apply_shard_settings(ssm, stage, environ, shards, new_stage=new_stage, dry_run=False,
                         settle_seconds=longest_timeout(package_dir))
    report(stage, stack, missing, environ)
    return 0


def report(stage: str, stack: dict, missing: list[str], environ: dict) -> None:
    out = outputs(stack)
    say("")
    say(f"Deployed stage {stage}.")
    say(f"  API URL:            {out.get('ApiUrl', '?')}")
    say(f"  Stripe webhook URL: {out.get('StripeWebhookUrl', '?')}")
    say("    register it twice in Stripe (Developers > Webhooks; docs/DEPLOY.md step 6):")
    for endpoint, types in WEBHOOK_EVENTS.items():
        say(f"      {'events on ' + endpoint + ':':<31}{', '.join(types)}")
    if "STRIPE_WEBHOOK_SECRET" in missing:
        say("  Then store both endpoints' signing secrets, comma-separated:")
        say(f"    STRIPE_WEBHOOK_SECRET=whsec_platform...,whsec_connect... make deploy STAGE={stage}")
    if environ.get("ALARM_EMAIL"):
        say(f"  Alarms go to {environ['ALARM_EMAIL']}: confirm the subscription e-mail from AWS.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--dry-run", action="store_true", default=truthy(os.environ.get("DRY_RUN")))
    parser.add_argument("--package-dir", type=Path, help="deploy this package instead of packaging again")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    return deploy(args.stage, dry_run=args.dry_run, environ=dict(os.environ), package_dir=args.package_dir)


if __name__ == "__main__":
    sys.exit(main())
