"""Cost per completed task, from what a few complete tasks actually used on the local stack.

A task is counted from posting to the freelancer's transfer, and on to the end of its timers: the API requests
(create, claim, submit, approve, and Stripe's payment_intent.succeeded webhook, which Stripe sends even when the
payment was confirmed in the request), the payouts worker, the timer sweep's share (reading, handing on and
deleting the task's two timers) and the timers worker on those messages, which find nothing left to do.
Counted: Lambda invocations and their durations (measured here, so slower than on AWS), API Gateway requests,
DynamoDB read/write units (bench/meter.py) and SQS requests (the app's, plus the event source's receive and delete
per delivered batch). Priced at AWS's on-demand list prices below.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .meter import Tally
from .stack import ControlledClock, Stack

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.0002
COMMISSION = 0.20  # a 20% platform commission on a $1.00 task
REGION = "us-east-1"
# From AWS's published price lists (DynamoDB's after its on-demand cut of 1 November 2024); this machine has no
# internet access to re-check them at run time, so re-check before quoting.
PRICES_CHECKED = "the 2025 published lists"
PRICES = {  # USD, us-east-1, on-demand list prices
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86
    "apigw_request": 3.50 / 1e6,  # REST API (what Chalice deploys), first 333 M a month
    "dynamodb_rru": 0.125 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,
    "sqs_request": 0.40 / 1e6,  # standard queues, beyond the first 1 M a month
}
STRIPE_CALL_SECONDS = 0.3  # a typical Stripe API round trip from AWS, for the sensitivity line
MINUTES_PER_MONTH = 43_200


@dataclass
class Result:
    tasks: int
    memory_mb: int
    api_requests: float = 0
    invocations: float = 0
    lambda_seconds: float = 0
    tally: Tally = field(default_factory=Tally)
    esm_sqs_requests: float = 0
    stripe_requests: int = 0  # what the tasks asked of Stripe, as the stand-in counted it
    sweep_seconds: float = 0.0
    sweep_read_units: float = 0.0
    breakdown: dict[str, float] = field(default_factory=dict)

    def per_task(self, value: float) -> float:
        return value / self.tasks

    @property
    def stripe_calls_per_task(self) -> float:
        return self.per_task(self.stripe_requests)

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.lambda_seconds

    def dollars(self) -> dict[str, float]:
        sqs = self.tally.sqs + self.esm_sqs_requests
        return {
            "Lambda requests": self.per_task(self.invocations) * PRICES["lambda_request"],
            "Lambda compute": self.per_task(self.gb_seconds) * PRICES["lambda_gb_second"],
            "API Gateway": self.per_task(self.api_requests) * PRICES["apigw_request"],
            "DynamoDB reads": self.per_task(self.tally.read_units) * PRICES["dynamodb_rru"],
            "DynamoDB writes": self.per_task(self.tally.write_units) * PRICES["dynamodb_wru"],
            "SQS": self.per_task(sqs) * PRICES["sqs_request"],
        }

    @property
    def total(self) -> float:
        return sum(self.dollars().values())


def memory_mb() -> int:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return int(config.get("lambda_memory_size", 128))


def _bill(seconds: float) -> float:
    """Lambda bills each invocation's duration rounded up to the millisecond."""
    return math.ceil(seconds * 1000) / 1000


def run(stack: Stack, tasks: int = 5) -> Result:
    from chalicelib import config

    stack.drain()
    payouts, timers = config.payouts_queue_name(), config.timers_queue_name()
    result = Result(tasks=tasks, memory_mb=memory_mb())
    client = stack.account("client")
    freelancer = stack.payable_freelancer()
    ckey, fkey = client["api_key"], freelancer["api_key"]
    original = stack.deps.clock
    clock = ControlledClock(original.now())
    stack.deps.clock = clock
    try:
        for _ in range(tasks):
            served = stack.stripe_requests()
            _one_task(stack, result, ckey, fkey, payouts)
            result.stripe_requests += stack.stripe_requests() - served
        clock.current += timedelta(days=3, minutes=1)  # past every deadline and review window
        tally, seconds = stack.schedule()
        result.tally.calls += tally.calls  # its reads, deletes and sends for these tasks' timers; the run itself
        # happens every minute whatever the traffic: a fixed cost, priced below
        while True:
            delivered, tally, seconds = stack.deliver(timers)
            if not delivered:
                break
            _invocation(result, tally, seconds, batches=1)
        empty, empty_seconds = stack.schedule()
        result.sweep_seconds = empty_seconds
        result.sweep_read_units = empty.read_units
    finally:
        stack.deps.clock = original
        stack.drain()
    return result


def _invocation(result: Result, tally: Tally, seconds: float, *, batches: int = 0, api: bool = False) -> None:
    result.invocations += 1
    result.lambda_seconds += _bill(seconds)
    result.tally.calls += tally.calls
    result.api_requests += 1 if api else 0
    result.esm_sqs_requests += 2 * batches  # ReceiveMessage, then DeleteMessageBatch


def _one_task(stack: Stack, result: Result, ckey: str, fkey: str, payouts: str) -> None:
    created = stack.call("POST", "/v1/bounties", stack.bounty_body(), key=ckey)
    assert created.status == 201, created.body
    bid = created.body["id"]
    hook = stack.webhook("payment_intent.succeeded", {
        "id": created.body["funding"]["payment_intent_id"], "object": "payment_intent", "status": "succeeded",
        "latest_charge": None, "metadata": {"bounty_id": bid}})
    claimed = stack.call("POST", f"/v1/bounties/{bid}/claims", key=fkey)
    submitted = stack.call("POST", f"/v1/bounties/{bid}/submissions", {"content": "Done."}, key=fkey)
    approved = stack.call("POST", f"/v1/submissions/{submitted.body['id']}/approve", {"rating": 5}, key=ckey)
    for response in (created, hook, claimed, submitted, approved):
        assert response.status in (200, 201), (response.status, response.body)
        _invocation(result, response.tally, response.seconds, api=True)
    delivered, tally, seconds = stack.deliver(payouts)
    assert delivered == 1, delivered
    _invocation(result, tally, seconds, batches=1)


def markdown(r: Result, *, cold_start_seconds: float | None = None) -> str:
    dollars = r.dollars()
    verdict = "✅" if r.total < TARGET else f"❌ ({r.total / TARGET:.2f}× the target)"
    gb = r.memory_mb / 1024
    stripe_extra = r.stripe_calls_per_task * STRIPE_CALL_SECONDS * gb * PRICES["lambda_gb_second"]
    rows = "\n".join(f"| {name} | {value * 1e6:.2f} |" for name, value in dollars.items())
    per = r.per_task
    sweep_month = MINUTES_PER_MONTH * (PRICES["lambda_request"] + _bill(r.sweep_seconds) * gb * PRICES[
        "lambda_gb_second"] + r.sweep_read_units * PRICES["dynamodb_rru"])
    lines = [
        f"Measured over {r.tasks} complete tasks; per task: {per(r.invocations):.1f} Lambda invocations "
        f"({per(r.api_requests):g} through API Gateway), {per(r.lambda_seconds):.2f} s billed at {r.memory_mb} MB "
        f"({per(r.gb_seconds):.3f} GB-s), {per(r.tally.dynamodb):.1f} DynamoDB calls = "
        f"{per(r.tally.read_units):.1f} read units + {per(r.tally.write_units):.1f} write units, "
        f"{per(r.tally.sqs + r.esm_sqs_requests):.1f} SQS requests.",
        "",
        "| per completed task | millionths of a dollar (µ$) |",
        "|---|---:|",
        rows,
        f"| **total** | **{r.total * 1e6:.2f}** (= ${r.total:.6f}) |",
        "",
        f"- Target < ${TARGET} per task: {verdict}. A 20% commission on a $1.00 task is ${COMMISSION:.2f}: "
        f"**{COMMISSION / r.total:,.0f}×** what running a task costs us.",
        f"- Durations are those measured here, against moto and localstripe on a shared 2-core machine. With real "
        f"Stripe (~{STRIPE_CALL_SECONDS * 1000:.0f} ms for each of the {r.stripe_calls_per_task:g} requests a task "
        "makes, as the stand-in counted them) "
        f"add {stripe_extra * 1e6:.2f} µ$.",
    ]
    if cold_start_seconds is not None:
        # Since 1 August 2025 Lambda bills the INIT phase of managed runtimes too.
        cold = cold_start_seconds * gb * PRICES["lambda_gb_second"]
        lines.append(f"- A cold start (init, measured above: {cold_start_seconds:.2f} s) costs {cold * 1e6:.2f} µ$; "
                     f"even if every one of a task's {per(r.invocations):.1f} invocations started cold, the task "
                     f"would cost {(r.total + cold * per(r.invocations)) * 1e6:.2f} µ$.")
    lines += [
        f"- Fixed, not per task: the timer sweep every minute ({MINUTES_PER_MONTH:,} runs a month, "
        f"{_bill(r.sweep_seconds) * 1000:.0f} ms and {r.sweep_read_units:g} read units each when nothing is due) "
        f"≈ ${sweep_month:.2f} a month; Lambda's SQS pollers' empty receives on 3 queues ≈ $0.8 a month "
        "(about 650 k long polls per queue); storage $0.25 per GB-month (a task leaves ~7 KB: bounty, claim, "
        "submission, payout, ledger entries, and the freelancer's copies of the claim, submission and payout). "
        "Not counted: CloudWatch Logs (~1 KB of log per invocation, "
        "$0.50/GB ingested ≈ 3 µ$ a task), data transfer, and Stripe's own fees, which any platform pays.",
        f"- Prices: AWS on-demand list prices, region {REGION}, as of {PRICES_CHECKED}: Lambda $0.20 per million "
        "requests and $0.0000166667 per GB-second (x86); API Gateway REST $3.50 per million requests; DynamoDB "
        "on-demand $0.125 per million read request units and $0.625 per million write request units; SQS standard "
        "$0.40 per million requests. Free tiers ignored.",
    ]
    return "\n".join(lines) + "\n"
