"""What each deployed function may do on SQS and DynamoDB, as infra/build_template.FUNCTIONS grants it, enforced on
the app's clients locally (the stack, the tests), since moto lets any caller do anything.

A call the deployed role would refuse (the timers worker queueing the rest of a big bounty's claims onto its own
queue, the sweep reading a table other than the timers', a Scan on any function's path) fails here as it would on
AWS, with AccessDenied, instead of passing every test and failing only in production. The runner names the
function it invokes; anything else in the process is the API function.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

API_FUNCTION = "api_handler"
OPERATOR = "operator"  # `python -m ops` run in a test's process: the operator's own credentials, not a role of ours
_function: ContextVar[str] = ContextVar("local_function", default=API_FUNCTION)


@contextmanager
def running(function_name: str) -> Iterator[None]:
    """Calls made inside are the named function's (as the runner invokes a handler)."""
    token = _function.set(function_name)
    try:
        yield
    finally:
        _function.reset(token)


def as_operator(step):
    """`step` run with the operator's own credentials, as `python -m ops` runs it (the upgrade steps scan)."""
    @functools.wraps(step)
    def run(*args, **kwargs):
        with running(OPERATOR):
            return step(*args, **kwargs)

    return run


def _named(function_name: str):
    from infra.build_template import FUNCTIONS

    return next(f for f in FUNCTIONS if f.name == function_name)


def allowed_operations(function_name: str) -> dict[str, set[str]]:
    """Queue name -> the SQS operations the function's role allows on it (from infra/build_template)."""
    from chalicelib import config

    names = (config.payouts_queue_name(), config.refunds_queue_name(), config.timers_queue_name())
    return _operations_granted(function_name, names)


@functools.cache
def _operations_granted(function_name: str, names: tuple[str, str, str]) -> dict[str, set[str]]:
    from infra.build_template import CONSUME_ACTIONS, SEND_ACTIONS

    names = dict(zip(("payouts", "refunds", "timers"), names, strict=True))
    function = _named(function_name)
    allowed: dict[str, set[str]] = {}
    for queue in function.sends:
        allowed.setdefault(names[queue], set()).update(a.removeprefix("sqs:") for a in SEND_ACTIONS)
    if function.consumes:
        allowed.setdefault(names[function.consumes], set()).update(a.removeprefix("sqs:") for a in CONSUME_ACTIONS)
    return allowed


def enforce(client) -> None:
    """Refuses, on this SQS or DynamoDB client, what the calling function's role would not allow."""
    if getattr(client.meta, "_local_iam", False):
        return
    client.meta._local_iam = True
    service = client.meta.service_model.service_name
    client.meta.events.register(f"before-parameter-build.{service}",
                                _check if service == "sqs" else _check_tables)


def enforce_on_the_apps_clients() -> None:
    """Every AWS client the app has in this process: its queue's, and every DynamoDB client PynamoDB has made or makes
    (each model's, made anew after every bind(), and the transactions')."""
    from chalicelib.bootstrap import deps

    enforce(deps().queue.client)
    _enforce_on_pynamodbs_clients()


def _enforce_on_pynamodbs_clients() -> None:
    """PynamoDB hands its client out for every call it makes: the grants are put on it there, the first time. Not
    after bind() instead: that made all twelve models' clients at once, each a botocore session of its own reading
    botocore's data files again (a second or two a bind, and every upgrade step binds), where a step uses one or
    two; and a client made anew later (PynamoDB replaces one left without credentials) would be free of them."""
    from pynamodb.connection.base import Connection

    made = Connection.client.fget
    if getattr(made, "_local_iam", False):
        return

    def client(connection):
        found = made(connection)
        enforce(found)
        return found

    client._local_iam = True
    Connection.client = property(client, doc=Connection.client.__doc__)


def allowed_tables(function_name: str) -> frozenset[str]:
    """The table names the function's role allows TABLE_ACTIONS on (infra/build_template, infra/resources.json)."""
    from chalicelib import config

    return _tables_granted(function_name, config.table_prefix())


@functools.cache
def _tables_granted(function_name: str, prefix: str) -> frozenset[str]:
    from infra.build_template import load_resources

    resources = load_resources()["Resources"]
    entity = {logical: r["Properties"]["TableName"]["Fn::Sub"].removeprefix("bounty-${Stage}-")
              for logical, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    function = _named(function_name)
    return frozenset(prefix + entity[logical] for logical in (function.tables or entity))


# A DynamoDB operation, as IAM authorises it: each item of a transaction by its own action.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}


def _touched(operation: str, params: dict) -> list[tuple[str, str]]:
    """(action, table) for each table a DynamoDB request touches."""
    if operation == "TransactWriteItems":
        return [(_TRANSACT_ACTIONS[kind], item[kind]["TableName"])
                for item in params.get("TransactItems", []) for kind in item]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(operation, table) for table in params.get("RequestItems", {})]
    return [(operation, params.get("TableName", "*"))]


def _check_tables(model, params, **_) -> None:
    from infra.build_template import TABLE_ACTIONS

    function = _function.get()
    if function == OPERATOR:
        return
    granted = allowed_tables(function)
    for action, table in _touched(model.name, params):
        if f"dynamodb:{action}" not in TABLE_ACTIONS or table not in granted:
            _refuse(function, f"dynamodb:{action}", table, model.name)


def _refuse(function: str, action: str, resource: str, operation: str) -> None:
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "AccessDenied", "Message": (
        f"{function}'s role may not {action} on {resource} (infra/build_template.py FUNCTIONS; enforced locally "
        "by devtools/local_iam.py)")}}, operation)


# IAM has no actions of their own for SQS's batch operations: each is allowed by its single-message action.
_SQS_BATCH_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                      "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def _check(model, params, **_) -> None:
    queue = params.get("QueueName") or (params.get("QueueUrl") or "").rsplit("/", 1)[-1]
    function = _function.get()
    if function == OPERATOR:
        return
    action = _SQS_BATCH_ACTIONS.get(model.name, model.name)
    if action not in allowed_operations(function).get(queue, set()):
        _refuse(function, f"sqs:{action}", queue, model.name)
