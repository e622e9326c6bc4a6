"""Builds the template that `chalice package --merge-template` merges into Chalice's own.

Chalice writes the functions, their event sources and the REST API; it cannot create tables or queues,
never switches on partial batch responses, and its generated IAM policy misses PynamoDB's calls. So the
merge template brings:

- every stateful resource from infra/resources.json (tables, queues and dead-letter queues, log groups,
  the alarm topic and alarms), with the `Stage` parameter pinned to the stage being packaged;
- per function: its name, its environment (the stage, SSM parameter *names* of the secrets it may read,
  the queue retry limit), `ReportBatchItemFailures` on its SQS source (and, for a worker that calls Stripe, the
  stage's cap on its concurrent invocations), `DependsOn` its queue and log group;
- per function: an IAM policy listing exactly the tables, queues and parameters that function uses;
- API Gateway throttling for the stage (infra/stages.json), the API's name (its metrics and their alarm go by it)
  and the URLs to print after a deploy.

Usage: python -m infra.build_template --stage dev [-o merge.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

INFRA = Path(__file__).resolve().parent
RESOURCES_FILE = INFRA / "resources.json"
STAGES_FILE = INFRA / "stages.json"

STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
LOCAL_STAGES = ("local", "test")  # chalicelib.web.session.LOCAL_STAGES: never a deployed stage
API_STAGE = "api"  # .chalice/config.json api_gateway_stage
SECRET_PARAMETER = "/bounty-board/{stage}/{name}"

# The secrets of chalicelib.config, by environment variable; the app reads `<VAR>_PARAM` from SSM.
SECRETS = {
    "STRIPE_SECRET_KEY": "stripe-secret-key",
    "STRIPE_WEBHOOK_SECRET": "stripe-webhook-secret",
    "API_KEY_PEPPER": "api-key-pepper",
    "WEB_SESSION_SECRET": "web-session-secret",
}

QUEUES = {"payouts": "PayoutsQueue", "refunds": "RefundsQueue", "timers": "TimersQueue"}

# What the repository sends for our access patterns: GetItem and BatchGetItem (a request's records and its API
# key in one round trip), Query (tables and indexes), PutItem/DeleteItem/UpdateItem with conditions (UpdateItem:
# counters added without a read, conditional sets), and TransactWriteItems, which IAM authorises as the
# Put/Delete/Update/ConditionCheckItem of each item (ConditionCheckItem: the API key checked in a first write).
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                 "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]
# The SQS event source mapping polls with the function's role; the backoff in chalicelib/workers/queues.py
# looks the queue up by name and changes the visibility of a failed message.
CONSUME_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                   "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"]
SEND_ACTIONS = ["sqs:SendMessage", "sqs:GetQueueUrl"]


@dataclass(frozen=True)
class Function:
    """One Lambda function of the Chalice app and what it may touch."""

    name: str  # the handler's name in Chalice (api_handler for the REST API)
    logical_id: str  # Chalice's logical id in the packaged template
    role_id: str
    secrets: tuple[str, ...] = ()
    consumes: str | None = None  # the queue it is triggered by
    sends: tuple[str, ...] = ()
    tables: tuple[str, ...] | None = None  # logical ids; None = every table

    @property
    def calls_stripe(self) -> bool:
        return "STRIPE_SECRET_KEY" in self.secrets

    @property
    def log_group_id(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + "LogGroup"


# Who does what (read from chalicelib/services): the API creates payment intents and onboarding links
# (Stripe key), verifies webhooks (webhook secret), hashes API keys (pepper), signs the web form's session
# cookies (web session secret), queues payouts (approval, onboarding finished) and refunds (cancel). Payout and
# refund workers call Stripe; the payouts worker sends a payout again when it lost a race for it. The timers
# worker expires bounties (queues refunds), auto-approves (queues payouts) and ends a closed bounty's claims,
# queueing the rest of a big bounty's onto its own queue. The sweep moves due timers to their queue.
# Tables: the workers get only those their records live in (read from chalicelib/services and the repository's
# commit: a work copy goes with each claim, submission and payout written). None of them reads API keys,
# Idempotency-Key records or messages; only the payouts and refunds workers write the ledger.
# The local stack and the tests hold the app's SQS and DynamoDB calls to these grants (devtools/local_iam.py):
# moto does not.
FUNCTIONS = (
    Function("api_handler", "APIHandler", "ApiHandlerRole", secrets=tuple(SECRETS), sends=("payouts", "refunds")),
    Function("payouts_worker", "PayoutsWorker", "PayoutsWorkerRole", secrets=("STRIPE_SECRET_KEY",),
             consumes="payouts", sends=("payouts",),
             tables=("AccountsTable", "BountiesTable", "PayoutsTable", "LedgerTable", "WorkTable", "TimersTable")),
    Function("refunds_worker", "RefundsWorker", "RefundsWorkerRole", secrets=("STRIPE_SECRET_KEY",),
             consumes="refunds", tables=("BountiesTable", "LedgerTable")),
    Function("timers_worker", "TimersWorker", "TimersWorkerRole", consumes="timers",
             sends=("payouts", "refunds", "timers"),
             tables=("AccountsTable", "BountiesTable", "ClaimsTable", "SubmissionsTable", "ParticipantsTable",
                     "PayoutsTable", "WorkTable", "TimersTable")),
    Function("sweep_timers", "SweepTimers", "SweepTimersRole", sends=("timers",), tables=("TimersTable",)),
)


def check_stage(stage: str) -> str:
    if not STAGE_PATTERN.match(stage):
        raise SystemExit(f"stage {stage!r}: use 1-20 lower-case letters, digits or '-', starting with a letter "
                         "(it becomes part of table, queue and stack names)")
    if stage in LOCAL_STAGES:
        raise SystemExit(f"stage {stage!r}: the app reads this name as the local stack (web cookies without "
                         "Secure); choose another")
    return stage


def load_resources() -> dict:
    return json.loads(RESOURCES_FILE.read_text())


def stage_settings(stage: str) -> dict:
    stages = json.loads(STAGES_FILE.read_text())
    return {**stages["default"], **stages.get(stage, {})}


# Settings that decide where items are stored (chalicelib.config), by environment variable and stages.json key.
# Changing one on a stage with data needs its items moved: infra/deploy.py runs the `ops` command after the update.
SHARD_SETTINGS = {"OPEN_INDEX_SHARDS": "open_index_shards", "TIMER_SHARDS": "timer_shards"}
MAX_SHARDS = 64  # a listing makes one Query per open-index shard, the sweep one per timer shard each minute


def shard_settings(stage: str) -> dict[str, str]:
    """The stage's shard counts, by environment variable, checked."""
    settings = stage_settings(stage)
    counts = {}
    for env_name, key in SHARD_SETTINGS.items():
        value = settings.get(key)
        if type(value) is not int or not 1 <= value <= MAX_SHARDS:
            raise SystemExit(f"infra/stages.json, stage {stage}: {key} must be a whole number from 1 to "
                             f"{MAX_SHARDS}, not {value!r}")
        counts[env_name] = str(value)
    return counts


# How many invocations each SQS source of a worker that calls Stripe may run at once (stages.json
# `stripe_worker_concurrency`; Lambda takes 2 to 1000). Uncapped, a burst (the sweep queuing hundreds of
# auto-approvals, `ops redrive --dlq`) scales the payouts and refunds workers out to hundreds of invocations, and
# Stripe answers 429 (it allows about 100 requests a second live, 25 in test mode). A capped source stops receiving
# while it is at its cap: the rest of the burst waits in the queue without using up its deliveries, where a
# reserved concurrency would let Lambda receive messages it then cannot run.
WORKER_CONCURRENCY_SETTING = "stripe_worker_concurrency"
WORKER_CONCURRENCY_RANGE = (2, 1000)


def stripe_worker_concurrency(stage: str) -> int:
    value = stage_settings(stage).get(WORKER_CONCURRENCY_SETTING)
    lowest, highest = WORKER_CONCURRENCY_RANGE
    if type(value) is not int or not lowest <= value <= highest:
        raise SystemExit(f"infra/stages.json, stage {stage}: {WORKER_CONCURRENCY_SETTING} must be a whole number "
                         f"from {lowest} to {highest}, not {value!r}")
    return value


def sqs_event_properties(function: Function, stage: str) -> dict:
    properties: dict = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    if function.calls_stripe:
        properties["ScalingConfig"] = {"MaximumConcurrency": stripe_worker_concurrency(stage)}
    return properties


def secret_parameter(stage: str, env_name: str) -> str:
    return SECRET_PARAMETER.format(stage=stage, name=SECRETS[env_name])


def function_name(stage: str, function: Function) -> str:
    return f"bounty-{stage}-{function.name}"


def api_name(stage: str) -> str:
    """The REST API's name, which API Gateway's metrics are kept under (dimension ApiName, with Stage). Without
    it the API is named after the title of Chalice's Swagger, the app's name, in every stage: the alarm on one
    stage's 5xx answers would count every stage's in the account and region."""
    return f"bounty-{stage}-api"


def _arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def policy_statements(function: Function, stage: str, resources: dict) -> list[dict]:
    tables = function.tables or tuple(k for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table")
    statements = [
        {"Sid": "OwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": _arn(function.log_group_id)},
        {"Sid": "Tables", "Effect": "Allow", "Action": TABLE_ACTIONS,
         "Resource": [_arn(t) for t in tables] + [{"Fn::Sub": f"${{{t}.Arn}}/index/*"} for t in tables]},
    ]
    if function.consumes:
        statements.append({"Sid": "ConsumeQueue", "Effect": "Allow", "Action": CONSUME_ACTIONS,
                           "Resource": _arn(QUEUES[function.consumes])})
    if function.sends:
        statements.append({"Sid": "SendToQueues", "Effect": "Allow", "Action": SEND_ACTIONS,
                           "Resource": [_arn(QUEUES[q]) for q in function.sends]})
    if function.secrets:
        # SecureStrings under the AWS-managed key aws/ssm need no kms:Decrypt grant (its key policy
        # allows use through SSM within the account).
        statements.append({"Sid": "ReadSecrets", "Effect": "Allow", "Action": ["ssm:GetParameters"],
                           "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                                                    ":parameter" + secret_parameter(stage, s)}
                                        for s in function.secrets]})
    return statements


def environment(function: Function, stage: str) -> dict:
    variables = {
        "STAGE": stage,
        "MAX_RECEIVE_COUNT": {"Ref": "MaxReceiveCount"},
        "PUBLIC_BASE_URL": {"Fn::If": ["HasPublicBaseUrl", {"Ref": "PublicBaseUrl"}, {"Ref": "AWS::NoValue"}]},
        **shard_settings(stage),  # every function: each reads or writes open bounties or timers
    }
    if function.secrets:
        # Secrets are cached per container: a new value reaches the functions because this changes with it.
        variables["SECRETS_VERSION"] = {"Ref": "SecretsVersion"}
    for env_name in function.secrets:
        variables[f"{env_name}_PARAM"] = secret_parameter(stage, env_name)
    return variables


def merge_template(stage: str) -> dict:
    """The template to merge into Chalice's for `stage`."""
    check_stage(stage)
    base = load_resources()
    settings = stage_settings(stage)
    resources = copy.deepcopy(base["Resources"])
    parameters = copy.deepcopy(base["Parameters"])
    parameters["Stage"].update({"Default": stage, "AllowedValues": [stage],
                                "Description": "Fixed when packaging: Chalice writes the stage into names."})
    parameters["PublicBaseUrl"] = {
        "Type": "String", "Default": "",
        "Description": "Where people reach the API (links in onboarding and the web form): PUBLIC_BASE_URL, e.g. "
                       "a custom domain. Empty: the functions use the execute-api URL each request came in at.",
    }
    parameters["SecretsVersion"] = {
        "Type": "String", "Default": "0",
        "Description": "The versions of the stage's SSM secrets (set by infra/deploy.py); a change restarts the "
                       "functions' containers so they read the new values.",
    }
    conditions = copy.deepcopy(base.get("Conditions", {}))
    conditions["HasPublicBaseUrl"] = {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicBaseUrl"}, ""]}]}

    for function in FUNCTIONS:
        depends_on = [function.log_group_id]
        properties: dict = {
            "FunctionName": function_name(stage, function),
            "Environment": {"Variables": environment(function, stage)},
        }
        if function.consumes:
            depends_on.append(QUEUES[function.consumes])
            event = "".join(p.capitalize() for p in function.name.split("_")) + "SqsEventSource"
            properties["Events"] = {event: {"Properties": sqs_event_properties(function, stage)}}
        resources[function.logical_id] = {"DependsOn": depends_on, "Properties": properties}
        resources[function.role_id] = {"Properties": {"Policies": [{
            "PolicyName": f"{function.role_id}Policy",
            "PolicyDocument": {"Version": "2012-10-17",
                               "Statement": policy_statements(function, stage, base["Resources"])},
        }]}}

    resources["RestAPI"] = {"Properties": {"Name": api_name(stage), "MethodSettings": [{
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": settings["throttle_rate_limit"],
        "ThrottlingBurstLimit": settings["throttle_burst_limit"],
    }], "GatewayResponses": gateway_responses(),
        # Without it SAM's deployment also makes a stage called "Stage" (SAM issues #191, #1202): a second,
        # unthrottled copy of the API at /Stage. Any value turns that off; Chalice writes Swagger 2.0.
        "OpenApiVersion": "2.0"}}

    api_url = f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{API_STAGE}"
    outputs = copy.deepcopy(base.get("Outputs", {}))
    outputs.update({
        "ApiUrl": {"Description": "The API's base URL", "Value": {"Fn::Sub": api_url}},
        "StripeWebhookUrl": {"Description": "Register this endpoint in Stripe (Developers > Webhooks)",
                             "Value": {"Fn::Sub": api_url + "/v1/webhooks/stripe"}},
    })
    return {
        "Description": f"bounty-board, stage {stage}: Chalice's functions and API merged with infra/resources.json",
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": outputs,
    }


# Answers API Gateway gives itself, before any function runs, in the contract's error shape
# ({"error": {"code", "message"}}): a method or path with no route (API Gateway says 403 "Missing Authentication
# Token"; it is a 404 here, as Chalice gives locally), throttling, a body over its limit, and any other refusal.
GATEWAY_ERRORS = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", '"No route matches this method and path."'),
    "THROTTLED": (None, "rate_limited", "$context.error.messageString"),
    "REQUEST_TOO_LARGE": (None, "body_too_large", "$context.error.messageString"),
    "DEFAULT_4XX": (None, "request_refused", "$context.error.messageString"),
    "DEFAULT_5XX": (None, "gateway_error", "$context.error.messageString"),
}


def gateway_responses() -> dict:
    """SAM's GatewayResponses (part of the API's deployment, so a change to them is deployed with it)."""
    responses = {}
    for kind, (status, code, message) in GATEWAY_ERRORS.items():
        response = {
            "ResponseParameters": {"Headers": {"Content-Type": "'application/json'"}},
            "ResponseTemplates": {"application/json": f'{{"error": {{"code": "{code}", "message": {message}}}}}'},
        }
        if status:
            response["StatusCode"] = status
        responses[kind] = response
    return responses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    text = json.dumps(merge_template(args.stage), indent=2) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
