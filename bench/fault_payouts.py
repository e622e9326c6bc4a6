"""Many approvals paid under injected faults: proves 0 double payouts and 0 lost payouts.

    .venv/bin/python -m bench.fault_payouts --approvals 1000     # writes docs/FAULTS.md

Real moto and localstripe; every Stripe call of the payouts worker goes through the fault proxy (random 5xx,
dropped connections, answers lost after Stripe acted, hangs past the client timeout); every payout message is
delivered twice and two workers consume the queue concurrently; every other payout was approved a day before, so
its worker looks for an earlier transfer before making one (Stripe keeps idempotency keys ~24 h), while a fresh
one relies on the key alone. Payouts that exhaust their retries are re-driven as an operator would. Then every
payout is checked against Stripe's transfers and every ledger reconciled.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    approvals: int
    deliveries: int = 0
    faults: Counter = field(default_factory=Counter)
    paid: int = 0
    double_paid: int = 0
    lost: int = 0
    redriven: int = 0
    look_ups: int = 0  # the worker's looks for an earlier transfer (GET /v1/transfers)
    ledger_differences: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run(approvals: int, *, seed: int = 1, fault_rate: float = 0.2, stripe_url: str) -> Outcome:
    """Needs the app's environment pointed at running moto and localstripe (see main())."""
    from app import app
    from chalicelib import config
    from chalicelib.adapters.stripe_payments import StripePayments
    from chalicelib.bootstrap import deps
    from chalicelib.services import payouts as payout_service
    from chalicelib.services.reconcile import reconcile_bounty
    from devtools.fault_proxy import DROP, ERROR, HANG, LOSE_ANSWER, Fault, FaultProxy
    from devtools.runner import LocalRunner

    started = time.monotonic()
    freelancers_count = max(1, min(50, approvals // 20))
    bounties_count = -(-approvals // freelancers_count)
    d = deps()
    clients, bounty_ids, freelancers = _setup(d, bounties_count, freelancers_count)
    payout_ids = _approve(d, clients, bounty_ids, freelancers, approvals)

    proxy = FaultProxy(stripe_url, seed=seed).start()
    share = fault_rate / 4
    for action, extra in ((ERROR, {"status": 500}), (DROP, {}), (LOSE_ANSWER, {}), (HANG, {"seconds": 1.5})):
        proxy.inject(Fault(action, r"^/v1/transfers$", times=None, probability=share, **extra))
    proxy.inject(Fault(ERROR, r"^/v1/transfers$", method="GET", status=502, times=None, probability=share))
    original_payments = d._payments
    d._payments = StripePayments(api_base=proxy.url, timeout=1.0, network_retries=0)

    queue = config.payouts_queue_name()
    for payout_id in payout_ids:  # every message a second time
        d.queue.send(queue, {"payout_id": payout_id})
    outcome = Outcome(approvals=len(payout_ids))
    runner = LocalRunner(app)
    outcome.deliveries = _consume(runner, queue, payout_ids, d)
    for payout_id in payout_ids:
        if d.repo.get_payout(payout_id).status == "failed":
            payout_service.redrive(d, payout_id)
            outcome.redriven += 1
    if outcome.redriven:
        outcome.deliveries += _consume(runner, queue, payout_ids, d)
    proxy.stop()
    outcome.faults = Counter(action if method == "POST" else f"{action} on a look-up"
                             for action, method, _ in proxy.hits)
    outcome.look_ups = sum(1 for method, _ in proxy.requests if method == "GET")

    d._payments = original_payments  # check against Stripe without faults
    transfers_by_payout: Counter = Counter()
    for bounty_id in bounty_ids:
        money = d.payments.money_for(payment_intent_id=d.repo.get_bounty(bounty_id).payment_intent_id,
                                     transfer_group=bounty_id)
        transfers_by_payout.update(t.our_key for t in money.transfers)
        outcome.ledger_differences += reconcile_bounty(d, bounty_id)
    for payout_id in payout_ids:
        count = transfers_by_payout[payout_id]
        paid = d.repo.get_payout(payout_id).status == "paid"
        outcome.paid += paid and count == 1
        outcome.double_paid += count > 1
        outcome.lost += count == 0 or not paid
    outcome.seconds = time.monotonic() - started
    return outcome


def _setup(d, bounties_count: int, freelancers_count: int):
    from chalicelib.core.model import FREELANCER
    from chalicelib.ports import PaymentEvent
    from chalicelib.services import accounts, bounties, onboarding
    from chalicelib.services.deps import Caller

    client, _ = accounts.create_account(d, role="client", name="Bench client", email="bench@example.com")
    client_caller = Caller(account_id=client.id, role="client", key_id="bench")
    deadline = datetime.now(UTC) + timedelta(days=3)
    bounty_ids = []
    for i in range(bounties_count):
        bounty = bounties.create_bounty(
            d, client_caller, title=f"Bench task {i}", description="fault run", reward=100, currency="usd",
            slots=freelancers_count, deadline=deadline, review_window_seconds=86400, claim_seconds=None,
            estimated_minutes=None, tags=[], payment_method="pm_card_visa")
        assert bounty.status == "open", bounty.status
        bounty_ids.append(bounty.id)
    freelancers = []
    for i in range(freelancers_count):
        account, _ = accounts.create_account(d, role=FREELANCER, name=f"Bench freelancer {i}",
                                             email=f"f{i}@example.com")
        caller = Caller(account_id=account.id, role=FREELANCER, key_id="bench")
        link = onboarding.start_onboarding(d, caller)
        _complete_onboarding(link)
        stripe_account = d.repo.get_account(account.id).stripe_account_id
        onboarding.apply_account_event(d, PaymentEvent(id=f"evt_bench_{i}", type="account.updated", data={
            "id": stripe_account, "payouts_enabled": True, "metadata": {"account_id": account.id}}))
        freelancers.append(caller)
    return client_caller, bounty_ids, freelancers


def _complete_onboarding(link: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(link.replace("return_url=", "no_return="), data=b""),
                           timeout=10).close()


class _DayBehind:
    """The clock of an approval made a day ago: its payout's message comes after Stripe may have forgotten the
    transfer's idempotency key, so the worker must look for an earlier transfer first."""

    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(days=1)


def _approve(d, client_caller, bounty_ids, freelancers, approvals: int) -> list[str]:
    """Every other approval is a day old: both of the worker's paths, key alone and look-up first."""
    from chalicelib.services import work

    payout_ids, original = [], d.clock
    try:
        for bounty_id in bounty_ids:
            for caller in freelancers:
                if len(payout_ids) == approvals:
                    return payout_ids
                d.clock = _DayBehind() if len(payout_ids) % 2 else original
                submission = work.submit_work(d, caller, bounty_id, content="done", links=[])
                approved = work.approve_submission(d, client_caller, submission.id, rating=5, feedback=None)
                payout_ids.append(approved.payout_id)
    finally:
        d.clock = original
    return payout_ids


def _consume(runner, queue: str, payout_ids: list[str], d, workers: int = 2) -> int:
    """Two workers feed the payouts queue to the handler until no payout is left in flight."""
    delivered = [0] * workers
    stop = threading.Event()

    def worker(index: int) -> None:
        idle = 0
        while not stop.is_set() and idle < 3:
            got = runner.feed_once(queue, wait_seconds=1)
            delivered[index] += got
            idle = 0 if got else idle + 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(delivered)


def report(outcome: Outcome, *, seed: int, fault_rate: float) -> str:
    faults = ", ".join(f"{count} × {action}" for action, count in sorted(outcome.faults.items())) or "none"
    verdict = "PASS" if outcome.double_paid == 0 and outcome.lost == 0 and not outcome.ledger_differences else "FAIL"
    return f"""# Fault-injection run: payouts under failure

Command: `.venv/bin/python -m bench.fault_payouts --approvals {outcome.approvals} --seed {seed}` (run on
{datetime.now(UTC):%Y-%m-%d}, moto + localstripe on this machine).

| | |
|---|---|
| approvals (payouts queued) | {outcome.approvals} (half of them a day old: their worker looks up transfers first) |
| messages delivered to the payouts worker | {outcome.deliveries} (every message sent twice, two concurrent workers) |
| faults injected on Stripe calls (rate {fault_rate:.0%}) | {faults} |
| looks for an earlier transfer (every delivery of a day-old payout, and of a re-driven one) | {outcome.look_ups} |
| payouts re-driven after exhausting their retries | {outcome.redriven} |
| **paid exactly once** | **{outcome.paid}** |
| **double payouts** | **{outcome.double_paid}** |
| **lost payouts** | **{outcome.lost}** |
| ledger ≠ Stripe (bounties) | {len(outcome.ledger_differences)} |
| wall time | {outcome.seconds:.0f} s |

Verdict: **{verdict}**. Faults: `error` = Stripe answered 500; `drop` = connection closed before Stripe saw the
request; `lose_answer` = Stripe made the transfer but the answer never arrived (as if our worker crashed right
after the call); `hang` = no answer within the client's 1 s timeout (the transfer may still be made later);
`error on a look-up` = the look for an earlier transfer failed (502).
A smaller version of this run (`tests/api/test_fault_run.py`) is part of `make test`.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "FAULTS.md")
    args = parser.parse_args()

    from bench.stack import Stack  # the stand-ins and the bench stage, as every benchmark runs on

    with Stack() as stack:
        outcome = run(args.approvals, seed=args.seed, fault_rate=args.fault_rate, stripe_url=stack.stripe.url)
    text = report(outcome, seed=args.seed, fault_rate=args.fault_rate)
    args.output.write_text(text)
    print(text)
    print(json.dumps(outcome.ledger_differences[:20], indent=2))


if __name__ == "__main__":
    main()
