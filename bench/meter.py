"""Counts what the app asks of DynamoDB and SQS, through botocore's event hooks on the app's own clients.

Nothing is patched: a handler on `before-call.<service>` and `after-call.<service>` of each client sees the request
as sent and the answer as parsed. From those it records, per call: the operation, the items DynamoDB read
(ScannedCount for a Query or Scan, one per item a GetItem or BatchGetItem found) and the read and write units
DynamoDB would bill for it, computed from item sizes (see `capacity`).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024


# ---- DynamoDB item sizes, as the service computes them for billing ------------------------------------

def value_size(value: dict) -> int:
    """Bytes of one attribute value in the wire format ({"S": ...}, {"N": ...}, ...)."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else math.ceil(len(data) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    if kind in ("SS", "NS", "BS"):
        single = kind[0]
        return sum(value_size({single: v}) for v in data)
    return 0


def item_size(item: dict | None) -> int:
    """An item's size: the UTF-8 length of each attribute name plus its value's size."""
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def read_units(size: int, *, consistent: bool) -> float:
    """Any read costs at least one 4 KB unit; an eventually consistent read costs half."""
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * (1.0 if consistent else 0.5)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


# ---- one call, and a tally of many ---------------------------------------------------------------------

@dataclass
class Call:
    service: str
    operation: str
    items_read: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    seconds: float = 0.0


@dataclass
class Tally:
    calls: list[Call] = field(default_factory=list)

    def count(self, service: str) -> int:
        return sum(1 for c in self.calls if c.service == service)

    def operations(self, service: str | None = None) -> Counter:
        return Counter(c.operation for c in self.calls if service is None or c.service == service)

    @property
    def dynamodb(self) -> int:
        return self.count("dynamodb")

    @property
    def sqs(self) -> int:
        return self.count("sqs")

    @property
    def scans(self) -> int:
        return self.operations("dynamodb")["Scan"]

    @property
    def items_read(self) -> int:
        return sum(c.items_read for c in self.calls)

    @property
    def read_units(self) -> float:
        return sum(c.read_units for c in self.calls)

    @property
    def write_units(self) -> float:
        return sum(c.write_units for c in self.calls)

    def sqs_requests(self) -> int:
        """SQS bills each API call (a batch of up to 10 messages is one request)."""
        return self.sqs

    def summary(self, service: str) -> str:
        ops = self.operations(service)
        return ", ".join(f"{op} ×{n}" if n > 1 else op for op, n in sorted(ops.items())) or "—"


class Meter:
    """Attach to clients once; `with meter.measure() as tally:` records every call made inside the block."""

    def __init__(self) -> None:
        self._current: Tally | None = None
        self._attached: set[int] = set()
        self.indexes: dict[str, list[tuple[str, ...]]] = {}  # table -> key attribute names of each GSI

    def attach(self, client) -> None:
        if id(client) in self._attached:
            return
        self._attached.add(id(client))
        service = client.meta.service_model.endpoint_prefix
        client.meta.events.register(f"before-parameter-build.{service}", self._before)
        client.meta.events.register(f"after-call.{service}", self._after)

    def learn_indexes(self, dynamodb_client, tables: list[str]) -> None:
        """GSI keys per table, so a write can be charged for the index entries it also writes."""
        for table in tables:
            description = dynamodb_client.describe_table(TableName=table)["Table"]
            self.indexes[table] = [tuple(k["AttributeName"] for k in gsi["KeySchema"])
                                   for gsi in description.get("GlobalSecondaryIndexes", [])]

    def measure(self) -> _Measuring:
        return _Measuring(self)

    # -- hooks --

    def _before(self, params, model, context, **kwargs):
        if self._current is None:
            return
        call = Call(service=model.service_model.endpoint_prefix, operation=model.name)
        context["bench_call"] = (call, dict(params), time.perf_counter())

    def _after(self, http_response, parsed, model, context, **kwargs):
        pending = context.pop("bench_call", None)
        if pending is None or self._current is None:
            return
        call, params, started = pending
        call.seconds = time.perf_counter() - started
        if call.service == "dynamodb":
            self._charge(call, params, parsed)
        self._current.calls.append(call)

    # -- DynamoDB billing --

    def _index_writes(self, table: str, item: dict) -> int:
        """Each GSI whose keys the item carries gets a copy (every index here projects all attributes)."""
        return sum(1 for keys in self.indexes.get(table, []) if all(k in item for k in keys))

    def _put_units(self, table: str, item: dict) -> int:
        units = write_units(item_size(item))
        return units * (1 + self._index_writes(table, item))

    def _delete_units(self, table: str) -> int:
        return 1 + len(self.indexes.get(table, []))  # at most one entry per index goes with the item

    def _charge(self, call: Call, params: dict, parsed: dict) -> None:
        op = call.operation
        consistent = bool(params.get("ConsistentRead"))
        if op == "GetItem":
            found = parsed.get("Item")
            call.items_read = 1 if found else 0
            call.read_units = read_units(item_size(found), consistent=consistent)
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", [])
            call.items_read = parsed.get("ScannedCount", len(items))
            returned = sum(item_size(i) for i in items)
            # Filtered-out items are read and billed too: charge them at the mean size of those returned.
            mean = returned / len(items) if items else 0
            call.read_units = read_units(returned + mean * (call.items_read - len(items)), consistent=consistent)
        elif op == "BatchGetItem":
            for table, found in parsed.get("Responses", {}).items():
                table_consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
                call.items_read += len(found)
                call.read_units += sum(read_units(item_size(i), consistent=table_consistent) for i in found)
        elif op == "PutItem":
            call.write_units = self._put_units(params["TableName"], params["Item"])
        elif op in ("UpdateItem",):
            call.write_units = write_units(item_size(params.get("Key")))
        elif op == "DeleteItem":
            call.write_units = self._delete_units(params["TableName"])
        elif op == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    put = request.get("PutRequest")
                    call.write_units += self._put_units(table, put["Item"]) if put else self._delete_units(table)
        elif op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    units = self._put_units(entry["Put"]["TableName"], entry["Put"]["Item"])
                elif "Delete" in entry:
                    units = self._delete_units(entry["Delete"]["TableName"])
                else:  # Update or ConditionCheck
                    units = 1
                call.write_units += 2 * units  # a transaction bills every write twice
        elif op == "TransactGetItems":
            for found in parsed.get("Responses", []):
                call.items_read += 1 if found.get("Item") else 0
                call.read_units += 2 * read_units(item_size(found.get("Item")), consistent=True)


class _Measuring:
    """A measurement; one taken inside another also counts toward the outer one."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.tally = Tally()
        self.outer: Tally | None = None

    def __enter__(self) -> Tally:
        self.outer, self.meter._current = self.meter._current, self.tally
        return self.tally

    def __exit__(self, *exc) -> None:
        self.meter._current = self.outer
        if self.outer is not None:
            self.outer.calls += self.tally.calls
