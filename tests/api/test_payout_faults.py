"""Money moves exactly once under real faults: Stripe 5xx, hangs, dropped connections and lost answers (a fault
proxy in front of the Stripe stand-in), duplicated and concurrent SQS deliveries, a crash between the Stripe call
and our write, and approval racing cancel. The `api` fixture then checks every ledger against Stripe."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import config
from chalicelib.adapters.stripe_payments import StripePayments
from chalicelib.bootstrap import deps
from chalicelib.services import bounties, payouts, work
from chalicelib.services.deps import Caller
from devtools import local_iam
from devtools.fault_proxy import DROP, ERROR, HANG, LOSE_ANSWER, Fault, FaultProxy
from tests.api.racing import AfterFirstRead


@pytest.fixture
def faults(localstripe_server, chalice_app):
    """Every Stripe call the app makes goes through the fault proxy, with no SDK-level retries, so each fault
    reaches our own retry logic."""
    proxy = FaultProxy(localstripe_server.url, seed=7).start()
    original = deps()._payments
    deps()._payments = StripePayments(api_base=proxy.url, timeout=1.5, network_retries=0)
    yield proxy
    deps()._payments = original
    proxy.stop()


def _approved_payout(api, client_acct, freelancer, **bounty_fields) -> tuple[dict, dict]:
    bounty = api.bounty(client_acct["api_key"], **bounty_fields)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    approved = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])
    return bounty, approved


def _payout(api, freelancer, payout_id: str) -> dict:
    return next(p for p in api.ok("GET", "/v1/payouts?limit=100", key=freelancer["api_key"])["items"]
                if p["id"] == payout_id)


@pytest.mark.parametrize("fault", [
    Fault(ERROR, r"^/v1/transfers$", status=500, times=2),
    Fault(ERROR, r"^/v1/transfers$", status=503, times=1),
    Fault(HANG, r"^/v1/transfers$", seconds=3, times=1),
    Fault(DROP, r"^/v1/transfers$", times=2),
    Fault(LOSE_ANSWER, r"^/v1/transfers$", times=1),
], ids=["500-twice", "503", "hang", "dropped-twice", "answer-lost"])
def test_a_payout_survives_stripe_faults_and_pays_once(api, workers, faults, client_acct, payable_freelancer, fault):
    faults.inject(fault)
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    workers.drain()
    assert faults.hits, "the fault was never injected"
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "paid", payout
    [transfer] = workers.transfers_for(bounty["id"])
    assert transfer["id"] == payout["transfer_id"] and transfer["amount"] == 500


def _crashed_transfer(bounty: dict, payout_id: str, freelancer_id: str, idempotency_key: str) -> str:
    """What a worker that got as far as Stripe and then died leaves: the transfer exists, our records know
    nothing of it."""
    stored = deps().repo.get_payout(payout_id)
    return deps().payments.transfer(payout_id=stored.id, destination=deps().repo.get_account(freelancer_id)
                                    .stripe_account_id, amount=stored.amount, currency=stored.currency,
                                    source_charge=deps().repo.get_bounty(bounty["id"]).charge_id,
                                    transfer_group=bounty["id"], idempotency_key=idempotency_key)


def test_a_crash_between_the_transfer_and_our_write_is_healed_by_the_retry(
        api, workers, client_acct, payable_freelancer):
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    key = payouts._transfer_key(deps().repo.get_payout(approved["payout_id"]))
    made = _crashed_transfer(bounty, approved["payout_id"], payable_freelancer["id"], key)
    workers.drain()  # SQS delivers the message again: within Stripe's key lifetime, the key alone is enough
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "paid" and payout["transfer_id"] == made
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_retry_after_stripe_forgot_the_key_finds_the_crashed_transfer(
        api, workers, clock, client_acct, payable_freelancer):
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    # A key Stripe no longer replays (as after 24 hours): only the look-up by payout id can find this transfer.
    made = _crashed_transfer(bounty, approved["payout_id"], payable_freelancer["id"], "forgotten-key")
    clock.advance(payouts.STRIPE_KEY_TRUSTED_FOR.total_seconds() + 1)
    workers.drain()
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "paid" and payout["transfer_id"] == made
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_late_delivery_whose_look_up_fails_is_retried_and_pays_once(
        api, workers, faults, clock, client_acct, payable_freelancer):
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    clock.advance(payouts.STRIPE_KEY_TRUSTED_FOR.total_seconds() + 1)  # the message comes late: look first
    faults.inject(Fault(ERROR, r"^/v1/transfers$", method="GET", status=502, times=1))
    workers.drain()
    assert faults.hits, "the fault was never injected"
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "paid", payout
    [transfer] = workers.transfers_for(bounty["id"])
    assert transfer["id"] == payout["transfer_id"]


def test_a_fresh_first_delivery_asks_stripe_once(api, workers, faults, client_acct, payable_freelancer):
    """Within the key's lifetime the worker skips the look-up: one Stripe request moves the money."""
    _, approved = _approved_payout(api, client_acct, payable_freelancer)
    faults.requests.clear()
    workers.drain()
    assert _payout(api, payable_freelancer, approved["payout_id"])["status"] == "paid"
    assert faults.requests == [("POST", "/v1/transfers")]


def test_the_same_message_twice_in_a_batch_and_concurrently_pays_once(
        api, workers, client_acct, payable_freelancer):
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    body = json.dumps({"payout_id": approved["payout_id"]})
    records = [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{config.payouts_queue_name()}"}
               for i in range(2)]

    def deliver(batch):
        return workers.runner.invoke("payouts_worker", {"Records": batch}).payload

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(deliver, [records, records[:1], records[1:]]))
    workers.drain()  # the message the approval queued, and any delivery that lost a race and asked for a retry
    assert _payout(api, payable_freelancer, approved["payout_id"])["status"] == "paid", results
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_failure_recorded_after_another_delivery_paid_leaves_the_payout_paid(
        api, workers, faults, client_acct, payable_freelancer):
    """Two deliveries of one payout at once (the approval's message and its safety net's): one pays it; the other,
    on its last allowed receive, gets a Stripe error and, writing that down, finds the payout paid meanwhile. A
    failed attempt never moves a paid payout back: it would be listed as failed, alarmed, and stuck on a re-drive."""
    from dataclasses import replace

    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    payout_id, real = approved["payout_id"], deps()

    def paid_by_the_other_delivery():
        assert payouts.pay_out(real, payout_id) == "paid"
        faults.inject(Fault(ERROR, r"^/v1/transfers$", status=500, times=1))

    late = replace(real, repo=AfterFirstRead(real.repo, paid_by_the_other_delivery))
    assert payouts.pay_out(late, payout_id, receive_count=config.max_receive_count()) == "paid"
    assert faults.hits, "the fault was never injected"
    stored = real.repo.get_payout(payout_id)
    assert (stored.status, stored.last_error) == ("paid", None)
    key = payable_freelancer["api_key"]
    for listing in ("failed", "unpaid"):
        assert api.ok("GET", f"/v1/payouts?status={listing}&limit=100", key=key)["items"] == [], listing
    workers.drain()
    assert _payout(api, payable_freelancer, payout_id)["status"] == "paid"
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_payout_that_keeps_failing_ends_failed_in_the_dlq_and_one_command_redrives_it(
        api, workers, faults, client_acct, payable_freelancer, tmp_path):
    from ops.__main__ import main as ops

    faults.inject(Fault(ERROR, r"^/v1/transfers$", status=500, times=None))
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    workers.drain(rounds=config.max_receive_count() + 3)
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "failed"
    sqs = workers.runner.sqs
    dlq = sqs.get_queue_url(QueueName=f"{config.payouts_queue_name()}-dlq")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) >= 1
    assert workers.transfers_for(bounty["id"]) == []

    # Stripe recovers; the operator re-drives (docs/OPERATIONS.md) against this stack.
    faults.clear()
    (tmp_path / "env.json").write_text(json.dumps({}))
    with local_iam.running(local_iam.OPERATOR):
        assert ops(["--local", "--state-dir", str(tmp_path), "failed-payouts"]) == 0
        assert ops(["--local", "--state-dir", str(tmp_path), "redrive", "--all-failed", "--dlq"]) == 0
    workers.drain()
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "paid"
    assert len(workers.transfers_for(bounty["id"])) == 1
    assert ops(["--local", "--state-dir", str(tmp_path), "reconcile", "--bounty", bounty["id"]]) == 0


def test_an_unknown_stripe_account_fails_visibly_and_is_recoverable(api, workers, client_acct, payable_freelancer):
    account = deps().repo.get_account(payable_freelancer["id"])
    real = account.stripe_account_id
    from dataclasses import replace

    deps().repo.commit(changed=[replace(account, stripe_account_id="acct_doesnotexist")])
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    workers.drain(rounds=config.max_receive_count() + 3)
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "failed"
    account = deps().repo.get_account(payable_freelancer["id"])
    deps().repo.commit(changed=[replace(account, stripe_account_id=real)])
    from chalicelib.services import payouts

    payouts.redrive(deps(), approved["payout_id"])
    workers.drain()
    assert _payout(api, payable_freelancer, approved["payout_id"])["status"] == "paid"


def test_refunds_survive_faults_and_happen_once(api, workers, faults, client_acct):
    faults.inject(Fault(LOSE_ANSWER, r"^/v1/refunds$", times=1))
    faults.inject(Fault(ERROR, r"^/v1/refunds$", status=500, times=1))
    bounty = api.bounty(client_acct["api_key"], slots=2)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=client_acct["api_key"])
    workers.drain()
    assert workers.refunded_on_stripe(bounty) == bounty["funding"]["amount_total"]
    ledger = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=client_acct["api_key"])
    assert ledger["totals"]["refunded"] == bounty["funding"]["amount_total"] and ledger["totals"]["held"] == 0


def test_stripe_down_at_funding_leaves_a_bounty_that_can_be_funded_later(api, faults, client_acct):
    faults.inject(Fault(ERROR, r"^/v1/payment_intents", status=500, times=1))
    code, body = api.post("/v1/bounties", {
        "title": "t", "description": "d", "reward": {"amount": 500, "currency": "usd"},
        "deadline": api_deadline(), "payment_method": "pm_card_visa"}, key=client_acct["api_key"])
    assert (code, body["error"]["code"]) == (503, "payments_unavailable")
    mine = api.ok("GET", "/v1/bounties?mine=true&status=awaiting_funding", key=client_acct["api_key"])["items"]
    assert len(mine) == 1
    funded = api.ok("POST", f"/v1/bounties/{mine[0]['id']}/fund", {"payment_method": "pm_card_visa"},
                    key=client_acct["api_key"])
    assert funded["status"] == "open"
    api.bounties.append(funded["id"])


def api_deadline() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_approval_racing_cancel_keeps_the_work_paid_and_refunds_the_rest(
        api, workers, client_acct, payable_freelancer):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=3)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=payable_freelancer["api_key"])
    owner = Caller(account_id=client_acct["id"], role="client", key_id="test")
    with ThreadPoolExecutor(max_workers=2) as pool:
        approve = pool.submit(work.approve_submission, deps(), owner, sub["id"], rating=5, feedback=None)
        cancel = pool.submit(bounties.cancel_bounty, deps(), owner, bounty["id"])
        approve.result(), cancel.result()  # neither may fail: a cancel cannot cancel away handed-in work
    workers.drain()
    ledger = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert ledger["paid_out"] == 500 and ledger["held"] == 0
    assert ledger["refunded"] == bounty["funding"]["amount_total"] - 500 - ledger["fees"]
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_posting_a_paid_bounty_asks_stripe_once(api, faults, client_acct):
    """The PaymentIntent is created and confirmed in one request, and a declined card too leaves one request."""
    paid = api.bounty(client_acct["api_key"])
    declined = api.bounty(client_acct["api_key"], payment_method="pm_card_chargeCustomerFail")
    assert (paid["status"], declined["status"]) == ("open", "funding_failed")
    assert declined["funding"]["payment_intent_id"]
    assert faults.requests == [("POST", "/v1/payment_intents")] * 2


@pytest.mark.parametrize("after", [False, True], ids=["failed", "made-then-failed"])
def test_a_server_error_stripe_replays_under_its_key_moves_the_transfer_to_a_new_key(
        api, workers, client_acct, payable_freelancer, stripe_server_errors, after):
    """Stripe answers every retry under a key with the 500 it kept: the next delivery takes a new key, after
    looking for a transfer the failed request may have made (`after`: it did), and pays once."""
    stripe_server_errors(r"^/v1/transfers$", after=after)
    bounty, approved = _approved_payout(api, client_acct, payable_freelancer)
    workers.drain()
    payout = _payout(api, payable_freelancer, approved["payout_id"])
    assert payout["status"] == "paid", payout
    [transfer] = workers.transfers_for(bounty["id"])
    assert transfer["id"] == payout["transfer_id"]
    stored = deps().repo.get_payout(approved["payout_id"])
    assert (stored.attempts, stored.keys_spent) == (1, 1)
    assert payouts._transfer_key(stored).endswith(":k1")


@pytest.mark.parametrize("after", [False, True], ids=["failed", "made-then-failed"])
def test_a_server_error_stripe_replays_under_its_key_moves_the_refund_to_a_new_key(
        api, workers, client_acct, stripe_server_errors, after):
    stripe_server_errors(r"^/v1/refunds$", after=after)
    bounty = api.bounty(client_acct["api_key"], slots=2)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=client_acct["api_key"])
    workers.drain()
    assert workers.refunded_on_stripe(bounty) == bounty["funding"]["amount_total"]  # once, in full
    ledger = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=client_acct["api_key"])
    assert ledger["totals"]["refunded"] == bounty["funding"]["amount_total"] and ledger["totals"]["held"] == 0
    stored = deps().repo.get_bounty(bounty["id"])
    assert (stored.refund_key, stored.refund_keys_spent, stored.refunded_slots) == (None, 0, 2)


def test_a_server_error_stripe_replays_for_a_new_connect_account_moves_onboarding_to_a_new_key(
        api, freelancer, stripe_server_errors):
    stripe_server_errors(r"^/v1/accounts$")
    code, body = api.post("/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])
    assert (code, body["error"]["code"]) == (503, "payments_unavailable")
    assert deps().repo.get_account(freelancer["id"]).connect_keys_spent == 1
    # The freelancer tries again: a new key, so not Stripe's kept 500.
    assert api.ok("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])["url"]
    stored = deps().repo.get_account(freelancer["id"])
    assert stored.stripe_account_id and stored.connect_keys_spent == 1
