"""What each deployed function may do on SQS, as infra/build_template.FUNCTIONS grants it, enforced on the app's
SQS client locally (the stack, the tests), since moto lets any caller do anything.

A send the deployed role would refuse (the timers worker queueing the rest of a big bounty's claims onto its own
queue, say) fails here as it would on AWS, with AccessDenied, instead of passing every test and failing only in
production. The runner names the function it invokes; anything else in the process is the API function.
"""

from __future__ import annotations

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


def allowed_operations(function_name: str) -> dict[str, set[str]]:
    """Queue name -> the SQS operations the function's role allows on it (from infra/build_template)."""
    from chalicelib import config
    from infra.build_template import CONSUME_ACTIONS, FUNCTIONS, SEND_ACTIONS

    names = {"payouts": config.payouts_queue_name(), "refunds": config.refunds_queue_name(),
             "timers": config.timers_queue_name()}
    function = next(f for f in FUNCTIONS if f.name == function_name)
    allowed: dict[str, set[str]] = {}
    for queue in function.sends:
        allowed.setdefault(names[queue], set()).update(a.removeprefix("sqs:") for a in SEND_ACTIONS)
    if function.consumes:
        allowed.setdefault(names[function.consumes], set()).update(a.removeprefix("sqs:") for a in CONSUME_ACTIONS)
    return allowed


def enforce(sqs_client) -> None:
    """Refuses, on this client, what the calling function's role would not allow."""
    if getattr(sqs_client.meta, "_local_iam", False):
        return
    sqs_client.meta._local_iam = True
    sqs_client.meta.events.register("before-parameter-build.sqs", _check)


def _check(model, params, **_) -> None:
    from botocore.exceptions import ClientError

    queue = params.get("QueueName") or (params.get("QueueUrl") or "").rsplit("/", 1)[-1]
    function = _function.get()
    if function == OPERATOR:
        return
    if model.name not in allowed_operations(function).get(queue, set()):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": (
            f"{function}'s role may not sqs:{model.name} on {queue} (infra/build_template.py FUNCTIONS; "
            "enforced locally by devtools/local_iam.py)")}}, model.name)
