"""TransactWriteItems made idempotent by its ClientRequestToken, as DynamoDB makes it; moto ignores the token.

The SDK retries a transaction whose answer it lost (a timeout, a dropped connection) with the same token. DynamoDB
answers a repeat of one it made with success, changing nothing, for 10 minutes after the first completed; a request
reusing the token with other parameters in that time is refused (IdempotentParameterMismatchException). Stock moto
runs the repeat again: its conditions fail on the versions the first one moved on, so a test saw a conflict where
production sees the caller's own success (`adapters.dynamo.transaction_of_one_request` relies on DynamoDB's answer).

Only transactions that succeeded are remembered: what DynamoDB answers to the repeat of a cancelled one is not
documented, so that repeat runs again, as on stock moto.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler

TOKEN_SECONDS = 600
_made: dict[str, tuple[str, float]] = {}  # token -> (the request's parameters, when it completed)
_unremembered = DynamoHandler.transact_write_items  # replaced by install(): the action as installed before it


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                         "The request uses the same client token as a previous, but non-identical request.")


def _parameters(request: dict[str, Any]) -> str:
    return json.dumps({name: value for name, value in request.items() if name != "ClientRequestToken"},
                      sort_keys=True)


def _forget_expired(now: float) -> None:
    """The oldest first: tokens are remembered in the order their transactions completed."""
    while _made:
        token, (_, completed) = next(iter(_made.items()))
        if now - completed <= TOKEN_SECONDS:
            return
        del _made[token]


def transact_write_items(self: DynamoHandler):
    token, parameters = self.body.get("ClientRequestToken"), _parameters(self.body)
    now = time.monotonic()
    _forget_expired(now)
    if token in _made:
        if _made[token][0] != parameters:
            raise IdempotentParameterMismatch()
        return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    answer = _unremembered(self)
    if token:
        _made[token] = (parameters, time.monotonic())
    return answer


def install() -> None:
    """After the other corrections of the action (devtools.moto_strict's checks), which a first request passes
    through; its repeat is answered without them, as they passed it once."""
    global _unremembered
    if DynamoHandler.transact_write_items is not transact_write_items:
        _unremembered = DynamoHandler.transact_write_items
        DynamoHandler.transact_write_items = transact_write_items
