"""A Query that stops at its Limit says where it stopped, as DynamoDB's does, even with nothing left to read.

DynamoDB's API Reference (Query, Limit): "If DynamoDB processes the number of items up to the limit while
processing the results, it stops the operation and returns the matching values up to that point, and a key in
LastEvaluatedKey to apply in a subsequent operation"; and (LastEvaluatedKey) an answer carrying one does not mean
more items follow: only an answer without one ends the results. Stock moto gives a LastEvaluatedKey only when
another item follows the Limit, so on moto a page read to exactly its Limit looked like the end of the list, and
code reading "a key came back" as "more follow" was never tested against the answer production gives.

Here, when moto read exactly Limit items (before the filter, as DynamoDB counts them) and gave no key, the key of
the last item read is added, as moto builds it. Scan is left as it is: our code only scans in operator tools,
without a Limit.
"""

from __future__ import annotations

import inspect

from moto.dynamodb.models.table import Table

STOCK_QUERY = Table.query
_SIGNATURE = inspect.signature(STOCK_QUERY)


def _last_read(call: inspect.BoundArguments):
    """The last item the Query read, before its filter and projection dropped or cut it."""
    unfiltered = _SIGNATURE.bind(*call.args, **call.kwargs)
    unfiltered.arguments["filter_expression"] = None
    unfiltered.arguments["projection_expressions"] = None
    results, _, _ = STOCK_QUERY(*unfiltered.args, **unfiltered.kwargs)
    return results[-1]


def query(self: Table, *args, **kwargs):
    call = _SIGNATURE.bind(self, *args, **kwargs)
    results, scanned, last_key = STOCK_QUERY(*call.args, **call.kwargs)
    limit = call.arguments.get("limit")
    legacy_filter = call.arguments.get("filter_kwargs")  # QueryFilter counts differently in moto: left alone
    if last_key is None and limit and scanned == limit and not legacy_filter:
        last_key = self._get_last_evaluated_key(_last_read(call), call.arguments.get("index_name"))
    return results, scanned, last_key


def install() -> None:
    assert Table.query in (STOCK_QUERY, query)
    Table.query = query
