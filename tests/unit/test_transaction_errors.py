"""Which failures of a transaction are races (the use case reads again and decides anew) and which are not. No
I/O: the SDK's errors are built, as botocore raises them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError

from chalicelib.adapters import dynamo
from chalicelib.core import errors


def _failed(code: str) -> TransactWriteError:
    return TransactWriteError("failed", cause=ClientError({"Error": {"Code": code, "Message": "m"}},
                                                          "TransactWriteItems"))


@pytest.mark.parametrize("code", ["TransactionInProgressException", "TransactionConflictException"])
def test_a_transaction_in_progress_or_in_conflict_is_a_race(code):
    with pytest.raises(errors.ConcurrentUpdate):
        dynamo._raise_if_race(_failed(code), [])


def test_a_failed_condition_is_a_race_and_a_bad_request_is_not():
    with pytest.raises(errors.ConcurrentUpdate):
        dynamo._raise_if_race(_failed("TransactionCanceledException"), [None, "ConditionalCheckFailed"])
    dynamo._raise_if_race(_failed("ValidationException"), [])  # not a race: the caller raises it as it is
