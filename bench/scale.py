"""Scale: what the hot paths read and would be billed, at a small and a large table.

The bounties table is filled (with BatchWriteItem, outside the meter) with open bounties, each with its deadline
timer, as funding leaves them; then each hot path runs a few times at each size. What we compare across sizes is
what DynamoDB reads (ScannedCount, items found) and bills (units from item sizes, see bench/meter.py). Latency is
reported too, but moto answers an index Query by walking every item of the table, so its latency grows with the
table whatever the design.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import timedelta

from .meter import Tally
from .stack import Stack

PATHS = ("create", "list open", "claim", "submit", "approve", "sweep")
TARGET = 1.1
DUE_PER_SWEEP = 5


@dataclass
class Sample:
    dynamodb: int
    items_read: int
    read_units: float
    write_units: float
    seconds: float


@dataclass
class Result:
    sizes: list[int]
    fill_seconds: dict[int, float] = field(default_factory=dict)
    samples: dict[tuple[str, int], list[Sample]] = field(default_factory=dict)

    def median(self, path: str, size: int, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples[(path, size)])

    def ratio(self, path: str, attr: str) -> float:
        small, large = self.median(path, self.sizes[0], attr), self.median(path, self.sizes[-1], attr)
        return large / small if small else (1.0 if not large else float("inf"))

    def met(self, path: str) -> bool:
        return all(self.ratio(path, a) <= TARGET for a in ("items_read", "read_units", "write_units"))


def _sample(tally: Tally, seconds: float) -> Sample:
    return Sample(tally.dynamodb, tally.items_read, tally.read_units, tally.write_units, seconds)


class Filler:
    """Adds open bounties (and their deadline timers) straight into the tables, 25 items per request."""

    def __init__(self, stack: Stack):
        import boto3

        from chalicelib import config
        from chalicelib.adapters import dynamo
        from chalicelib.core import rules
        from chalicelib.core import timers as timer_rules
        from chalicelib.core.model import new_id
        from chalicelib.services.deps import Caller

        self.client = boto3.session.Session().client("dynamodb")  # not the app's: not metered
        self.count = 0
        now = stack.deps.clock.now()
        caller = Caller(account_id="acct_bench_filler", role="client", key_id="bench")
        bounty = rules.new_bounty(
            bounty_id=new_id("bty_"), client_id=caller.account_id, title="Transcribe a 2-minute clip",
            description="Type what is said in the audio clip, with speaker names.", reward=300, currency="usd",
            slots=1, deadline=now + timedelta(days=30), review_window_seconds=259200, claim_seconds=None,
            estimated_minutes=10, tags=["audio"], now=now, fee_bps=config.platform_fee_bps(),
            currencies=config.supported_currencies())
        funded = rules.mark_funded(rules.attach_funding(bounty, payment_intent_id="pi_bench", client_secret="s",
                                                        now=now), payment_intent_id="pi_bench",
                                   charge_id="ch_bench", now=now)
        self.dynamo, self.rules, self.timer_rules, self.new_id, self.config = dynamo, rules, timer_rules, new_id, config
        self.template = funded
        self.now = now

    def _items(self, index: int) -> list[tuple[str, dict]]:
        from dataclasses import replace

        created = self.now - timedelta(days=1) + timedelta(milliseconds=index)
        bounty = replace(self.template, id=self.new_id("bty_"), created_at=created, updated_at=created)
        timer = self.timer_rules.for_bounty(bounty, self.config.timer_shards())
        return [(type(item).Meta.table_name, item.serialize()) for item in
                (self.dynamo._to_item(bounty, 2), self.dynamo._to_item(timer, 1))]

    def fill_to(self, size: int) -> None:
        batch: list[tuple[str, dict]] = []
        while self.count < size:
            batch += self._items(self.count)
            self.count += 1
            if len(batch) >= 24 or self.count == size:
                self._write(batch)
                batch = []

    def _write(self, batch: list[tuple[str, dict]]) -> None:
        requests: dict[str, list] = {}
        for table, item in batch:
            requests.setdefault(table, []).append({"PutRequest": {"Item": item}})
        while requests:
            unprocessed = self.client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
            requests = unprocessed

    def due_timers(self, count: int) -> None:
        """Timers already due, for bounties that no longer exist: the sweep hands them on, the worker drops them."""
        items = []
        for _ in range(count):
            timer = self.timer_rules.timer("expire_bounty", self.new_id("bty_gone"), self.now - timedelta(seconds=5),
                                           self.config.timer_shards())
            item = self.dynamo._to_item(timer, 1)
            items.append((type(item).Meta.table_name, item.serialize()))
        self._write(items)


def _ok(name: str, response):
    if response.status not in (200, 201):
        raise RuntimeError(f"{name} answered {response.status}: {response.body}")
    return response


def _hot_paths(stack: Stack, filler: Filler, result: Result, size: int, repeats: int) -> None:
    client = stack.account("client")
    ckey = client["api_key"]
    freelancers = [stack.account("freelancer") for _ in range(repeats)]
    for i in range(repeats):
        fkey = freelancers[i]["api_key"]
        created = _ok("create", stack.call("POST", "/v1/bounties", stack.bounty_body(), key=ckey))
        bid = created.body["id"]
        listed = _ok("list open", stack.call("GET", "/v1/bounties"))
        claimed = _ok("claim", stack.call("POST", f"/v1/bounties/{bid}/claims", key=fkey))
        submitted = _ok("submit", stack.call("POST", f"/v1/bounties/{bid}/submissions", {"content": "Done."},
                                             key=fkey))
        approved = _ok("approve", stack.call("POST", f"/v1/submissions/{submitted.body['id']}/approve",
                                             {"rating": 5}, key=ckey))
        for name, response in zip(PATHS[:5], (created, listed, claimed, submitted, approved), strict=True):
            result.samples.setdefault((name, size), []).append(_sample(response.tally, response.seconds))
        filler.due_timers(DUE_PER_SWEEP)
        tally, seconds = stack.schedule()
        result.samples.setdefault(("sweep", size), []).append(_sample(tally, seconds))
        stack.runner.drain()


def run(stack: Stack, sizes: list[int], repeats: int = 3) -> Result:
    stack.drain()
    result = Result(sizes=sizes)
    filler = Filler(stack)
    for size in sizes:
        started = time.perf_counter()
        filler.fill_to(size)
        result.fill_seconds[size] = time.perf_counter() - started
        _hot_paths(stack, filler, result, size, repeats)
    return result


def markdown(r: Result) -> str:
    small, large = r.sizes[0], r.sizes[-1]
    head = ["path"]
    for size in r.sizes:
        head += [f"items read @ {size:,}", f"RCU @ {size:,}", f"WCU @ {size:,}", f"latency @ {size:,}"]
    head += [f"items/RCU/WCU ratio {large:,}÷{small:,}", "target"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 2) + "|---|"]
    for path in PATHS:
        cells = [path]
        for size in r.sizes:
            cells += [f"{r.median(path, size, 'items_read'):g}", f"{r.median(path, size, 'read_units'):g}",
                      f"{r.median(path, size, 'write_units'):g}", f"{r.median(path, size, 'seconds') * 1000:.0f} ms"]
        ratios = "/".join(f"{r.ratio(path, a):.2f}" for a in ("items_read", "read_units", "write_units"))
        cells += [ratios, f"≤ {TARGET}× " + ("✅" if r.met(path) else "❌")]
        lines.append("| " + " | ".join(cells) + " |")
    fills = ", ".join(f"{size:,} in {seconds:.0f} s" for size, seconds in r.fill_seconds.items())
    return "\n".join(lines) + f"\n\nTables filled (bounties plus their timers, cumulative): {fills}.\n"


def plot(r: Result, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in PATHS:
        left.plot(r.sizes, [r.median(name, s, "seconds") * 1000 for s in r.sizes], marker="o", label=name)
        right.plot(r.sizes, [r.median(name, s, "items_read") for s in r.sizes], marker="o", label=name)
    for axis, title in ((left, "latency on moto (ms, median)"), (right, "items DynamoDB reads per request")):
        axis.set_xscale("log")
        axis.set_xlabel("open bounties in the table")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    left.set_yscale("log")
    right.set_ylim(bottom=0)
    right.legend(fontsize=8)
    fig.suptitle("Hot paths against table size (moto walks whole tables for index queries; DynamoDB does not)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
