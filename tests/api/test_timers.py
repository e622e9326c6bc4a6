"""Time, under a controlled clock: deadlines expire bounties and refund them, claims lapse, silence approves.

The sweep (the `@app.schedule` handler) and the timers queue's handler run exactly as deployed, through the real
queues on moto; only the clock is the test's.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.bootstrap import deps
from chalicelib.services import timers, work
from tests.api.racing import caller, race


def _at(clock, seconds: int) -> str:
    return (clock.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tick(clock, workers, seconds: int) -> None:
    """Time passes; the schedule fires and the workers run, as they would every minute."""
    clock.advance(seconds)
    workers.sweep()
    workers.drain()


def _totals(api, key, bounty_id) -> dict:
    totals = api.ok("GET", f"/v1/bounties/{bounty_id}/ledger", key=key)["totals"]
    assert totals["funded"] == totals["paid_out"] + totals["fees"] + totals["refunded"] + totals["held"]
    return totals


def test_deadline_expires_the_bounty_refunds_unspent_slots_and_keeps_pending_work(
        api, workers, clock, client_acct, freelancer):
    key, fkey = client_acct["api_key"], freelancer["api_key"]
    bounty = api.bounty(key, slots=3, reward={"amount": 1000, "currency": "usd"}, deadline=_at(clock, 120),
                        review_window_seconds=600)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201, key=fkey)

    _tick(clock, workers, 60)
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["status"] == "open"  # not due yet

    _tick(clock, workers, 61)
    expired = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)
    assert expired["status"] == "expired" and expired["slots_left"] == 0
    late = api.account("freelancer")
    code, body = api.post(f"/v1/bounties/{bounty['id']}/claims", key=late["api_key"])
    assert code in (404, 409), body  # an expired bounty is no longer public; it never takes work
    # Two unspent slots: their rewards and two thirds of the fee; the pending slot stays held.
    totals = _totals(api, key, bounty["id"])
    assert totals["refunded"] == 2000 + 200 and totals["held"] == 1000 + 100
    assert workers.refunded_on_stripe(bounty) == 2200

    # The pending submission keeps its review window, then is approved automatically.
    _tick(clock, workers, 600)
    decided = api.ok("GET", f"/v1/submissions/{sub['id']}", key=fkey)
    assert decided["status"] == "approved" and decided["auto_approved"] is True
    assert _totals(api, key, bounty["id"])["refunded"] == 2200


def test_a_lapsed_claim_opens_its_slot_again(api, workers, clock, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], slots=1, claim_seconds=60)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=freelancer["api_key"])
    other = api.account("freelancer")
    code, body = api.post(f"/v1/bounties/{bounty['id']}/claims", key=other["api_key"])
    assert (code, body["error"]["code"]) == (409, "no_slots_left")

    _tick(clock, workers, 59)
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 0
    _tick(clock, workers, 2)
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 1
    [claim] = api.ok("GET", "/v1/claims", key=freelancer["api_key"])["items"]
    assert claim["status"] == "lapsed"
    # The lapsed claim no longer entitles its holder to submit; the slot is someone else's to take.
    code, body = api.post(f"/v1/bounties/{bounty['id']}/submissions", {"content": "late"}, key=freelancer["api_key"])
    assert code == 409, body
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=other["api_key"])


def test_a_freelancer_whose_claim_expired_can_claim_again_before_its_timer_runs(
        api, workers, clock, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], slots=1, claim_seconds=60)
    fkey = freelancer["api_key"]
    first = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=fkey)

    clock.advance(61)  # expired, and the sweep has not run yet
    again = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=fkey)

    assert again["id"] != first["id"]
    statuses = {c["id"]: c["status"] for c in api.ok("GET", "/v1/claims", key=fkey)["items"]}
    assert statuses == {first["id"]: "lapsed", again["id"]: "live"}
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 0
    workers.sweep()  # the first claim's own timer comes due now: it has nothing left to free
    workers.drain()
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 0
    api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201, key=fkey)


def test_a_silent_client_cannot_withhold_pay(api, workers, clock, client_acct, payable_freelancer):
    key, fkey = client_acct["api_key"], payable_freelancer["api_key"]
    bounty = api.bounty(key, review_window_seconds=300)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201, key=fkey)
    _tick(clock, workers, 299)
    assert api.ok("GET", f"/v1/submissions/{sub['id']}", key=fkey)["status"] == "pending_review"
    _tick(clock, workers, 2)
    decided = api.ok("GET", f"/v1/submissions/{sub['id']}", key=fkey)
    assert decided["status"] == "approved" and decided["auto_approved"] is True
    [payout] = api.ok("GET", "/v1/payouts", key=fkey)["items"]
    assert payout["status"] == "paid" and payout["transfer_id"].startswith("tr_")
    assert _totals(api, key, bounty["id"])["paid_out"] == 500
    # The timer, delivered again, changes nothing.
    assert timers.fire(deps(), "auto_approve", sub["id"]) == "unchanged"
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_rejection_after_the_review_window_is_refused_before_the_timer_fires(api, workers, clock, client_acct,
                                                                            freelancer):
    """Between the window's end and the sweep (up to a minute deployed, longer with a backed-up queue) the work is
    already the freelancer's: a late rejection is refused, and the timer then approves it."""
    key, fkey = client_acct["api_key"], freelancer["api_key"]
    bounty = api.bounty(key, review_window_seconds=300)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201, key=fkey)
    clock.advance(300)  # the window has closed; no timer has run
    code, body = api.call("POST", f"/v1/submissions/{sub['id']}/reject", {"reason": "late"}, key=key)
    assert (code, body["error"]["code"]) == (409, "review_window_passed"), body
    assert api.ok("GET", f"/v1/submissions/{sub['id']}", key=fkey)["status"] == "pending_review"
    _tick(clock, workers, 1)
    assert api.ok("GET", f"/v1/submissions/{sub['id']}", key=fkey)["auto_approved"] is True


def test_approve_racing_auto_approval_pays_once(api, workers, clock, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], review_window_seconds=60)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    clock.advance(61)
    owner = caller(client_acct)
    outcomes = race(lambda: work.approve_submission(deps(), owner, sub["id"], rating=5, feedback=None),
                     lambda: timers.fire(deps(), "auto_approve", sub["id"]),
                     lambda: timers.fire(deps(), "auto_approve", sub["id"]))
    approvals = [o for o in outcomes if o[0] == "won" and o[1] not in ("unchanged", "not_due")]
    assert len(approvals) == 1, outcomes
    assert len(api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]) == 1
    stored = deps().repo.get_bounty(bounty["id"])
    assert (stored.pending_slots, stored.approved_slots) == (0, 1)


def test_submit_racing_the_deadline_has_one_winner(api, workers, clock, client_acct):
    """At the deadline, a submission and the expiry timer arrive together: the bounty either took the work
    (and then expired around it) or refused it; slots and money add up either way."""
    key = client_acct["api_key"]
    freelancers = [api.account("freelancer") for _ in range(3)]
    bounty = api.bounty(key, slots=3, deadline=_at(clock, 60))
    clock.advance(59.999)
    submits = [lambda f=f: work.submit_work(deps(), caller(f), bounty["id"], content="x", links=[])
               for f in freelancers]
    expiry = [lambda: (clock.advance(0.001), timers.expire_bounty(deps(), bounty["id"]))[1]]
    outcomes = race(*submits, *expiry)
    workers.drain()
    stored = deps().repo.get_bounty(bounty["id"])
    accepted = [o for o in outcomes[:3] if o[0] == "won"]
    assert stored.status == "expired"
    assert stored.pending_slots == len(accepted)
    assert stored.refunded_slots == 3 - len(accepted)
    assert {o[1] for o in outcomes[:3] if o[0] == "lost"} <= {"bounty_not_open", "deadline_passed"}
    _totals(api, key, bounty["id"])


def test_claim_racing_its_lapse(api, workers, clock, client_acct, freelancer):
    """A submission using a claim at the moment it lapses: either the work is in, or the slot is free again."""
    bounty = api.bounty(client_acct["api_key"], slots=1, claim_seconds=60)
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=freelancer["api_key"])
    clock.advance(60)
    outcomes = race(lambda: work.submit_work(deps(), caller(freelancer), bounty["id"], content="x", links=[]),
                     lambda: work.lapse_claim(deps(), claim["id"]))
    stored = deps().repo.get_bounty(bounty["id"])
    submitted = outcomes[0][0] == "won"
    assert not submitted  # at expires_at the claim is over: the lapse wins, whatever the order
    assert outcomes[1] == ("won", "lapsed")
    assert (stored.free_slots, stored.claimed_slots, stored.pending_slots) == (1, 0, 0)


def test_cancel_racing_expiry_refunds_once(api, workers, clock, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=2, deadline=_at(clock, 60))
    clock.advance(61)
    owner = caller(client_acct)
    from chalicelib.services import bounties

    outcomes = race(lambda: bounties.cancel_bounty(deps(), owner, bounty["id"]),
                     lambda: timers.expire_bounty(deps(), bounty["id"]))
    workers.drain()
    stored = deps().repo.get_bounty(bounty["id"])
    assert stored.status in ("cancelled", "expired")
    winners = [o for o in outcomes if o[0] == "won" and o[1] not in ("unchanged", "not_due")]
    assert len(winners) == 1, outcomes
    assert _totals(api, key, bounty["id"])["refunded"] == bounty["funding"]["amount_total"]
    assert workers.refunded_on_stripe(bounty) == bounty["funding"]["amount_total"]


def test_a_cancel_after_the_deadline_closes_the_bounty_as_expired_before_its_timer_runs(api, workers, clock,
                                                                                      client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=2, deadline=_at(clock, 60))
    clock.advance(61)
    closed = api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    assert closed["status"] == "expired"
    assert timers.expire_bounty(deps(), bounty["id"]) == "unchanged"
    workers.drain()
    assert _totals(api, key, bounty["id"])["refunded"] == bounty["funding"]["amount_total"]


def _purge(workers, queue: str) -> None:
    """The message sent after the commit is lost (the function died right after committing)."""
    sqs = workers.runner.sqs
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_lost_payout_message_is_sent_again_by_its_timer(api, workers, clock, client_acct, payable_freelancer):
    bounty = api.bounty(client_acct["api_key"])
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=payable_freelancer["api_key"])
    approved = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])
    _purge(workers, workers.payouts_queue)
    _tick(clock, workers, 60)
    [payout] = [p for p in api.ok("GET", "/v1/payouts", key=payable_freelancer["api_key"])["items"]
                if p["id"] == approved["payout_id"]]
    assert payout["status"] == "queued"  # nothing woke the worker yet
    _tick(clock, workers, 600)
    [payout] = [p for p in api.ok("GET", "/v1/payouts", key=payable_freelancer["api_key"])["items"]
                if p["id"] == approved["payout_id"]]
    assert payout["status"] == "paid"
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_redriven_payout_whose_message_is_lost_is_sent_again_by_its_timer(api, workers, clock, client_acct,
                                                                           payable_freelancer):
    """`ops redrive` puts a failed payout back in the queue and sends its message after that commit: if the message
    is lost, the payout would stay queued with nothing to wake the worker, but for the timer filed with it."""
    from dataclasses import replace

    from chalicelib.core.model import FAILED
    from chalicelib.services import payouts

    bounty = api.bounty(client_acct["api_key"])
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=payable_freelancer["api_key"])
    approved = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])
    _purge(workers, workers.payouts_queue)
    repo = deps().repo  # as if every attempt had failed
    repo.commit(changed=[replace(repo.get_payout(approved["payout_id"]), status=FAILED)])
    _tick(clock, workers, 700)  # the approval's own timer finds it failed: nothing to send
    assert repo.get_payout(approved["payout_id"]).status == FAILED

    payouts.redrive(deps(), approved["payout_id"])
    _purge(workers, workers.payouts_queue)  # the redrive's message is lost
    _tick(clock, workers, 60)
    assert repo.get_payout(approved["payout_id"]).status == "queued"  # nothing woke the worker yet
    _tick(clock, workers, 600)
    assert repo.get_payout(approved["payout_id"]).status == "paid"
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_a_lost_refund_message_is_sent_again_by_its_timer(api, workers, clock, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=2)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    _purge(workers, workers.refunds_queue)
    _tick(clock, workers, 601)
    assert _totals(api, key, bounty["id"])["refunded"] == bounty["funding"]["amount_total"]
    assert workers.refunded_on_stripe(bounty) == bounty["funding"]["amount_total"]


def test_payouts_released_by_stripes_word_are_sent_again_if_their_messages_are_lost(
        api, workers, clock, client_acct, payable_freelancer, monkeypatch):
    """Stripe's account-ready webhook puts held payouts back in the queue and sends their messages after its commit.
    If the function dies in between, Stripe's retry finds nothing waiting: only a timer filed with the release can
    send them again."""
    from chalicelib.core.model import Account
    from chalicelib.ports import PaymentEvent
    from chalicelib.services import onboarding

    repo, fid, key = deps().repo, payable_freelancer["id"], payable_freelancer["api_key"]
    assert repo.set_if(Account, fid, {"payouts_enabled": False}, expected={"role": "freelancer"})
    # Not ready yet when the payouts are tried (the worker asks Stripe before holding one): ready from the event on.
    stripe_says_ready = []
    asked = onboarding.ask_stripe_if_payable
    monkeypatch.setattr(onboarding, "ask_stripe_if_payable",
                        lambda deps_, account: bool(stripe_says_ready) and asked(deps_, account))
    bounties, payout_ids = [], []
    for _ in range(2):
        bounty = api.bounty(client_acct["api_key"])
        sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201, key=key)
        payout_ids.append(api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {},
                                 key=client_acct["api_key"])["payout_id"])
        bounties.append(bounty)
    # Held; the approval's and the hold's own safety nets fire and find nothing to do.
    _tick(clock, workers, 601)
    _tick(clock, workers, 601)
    assert [repo.get_payout(p).status for p in payout_ids] == ["awaiting_onboarding"] * 2

    # One payout in the webhook's transaction, the other released one by one after it: both paths file the timer.
    stripe_says_ready.append(True)
    monkeypatch.setattr(onboarding, "TRANSACTION_ROOM", 1)
    event = PaymentEvent(id=f"evt_ready{fid}", type="account.updated",
                         data={"id": repo.get_account(fid).stripe_account_id, "payouts_enabled": True,
                               "metadata": {"account_id": fid}})
    assert onboarding.apply_account_event(deps(), event) == "payouts_enabled"
    _purge(workers, workers.payouts_queue)
    assert onboarding.apply_account_event(deps(), event) == "payouts_enabled"  # Stripe's retry: nothing waits
    _tick(clock, workers, 60)
    assert [repo.get_payout(p).status for p in payout_ids] == ["queued"] * 2

    _tick(clock, workers, 600)
    assert [repo.get_payout(p).status for p in payout_ids] == ["paid"] * 2
    assert [len(workers.transfers_for(b["id"])) for b in bounties] == [1, 1]


def test_a_timer_fired_early_by_a_slower_clock_comes_back_instead_of_being_dropped(api, workers, clock, client_acct):
    """The sweep deletes a timer once it is queued; if the worker's clock says it is not due yet, the message fails
    and returns after the backoff, rather than succeeding and losing the expiry (and its refund) for good."""
    import pytest

    key = client_acct["api_key"]
    bounty = api.bounty(key, deadline=_at(clock, 120))
    clock.advance(119)  # a worker whose clock is a second behind the sweep's
    with pytest.raises(timers.NotDueYet):
        timers.fire(deps(), "expire_bounty", bounty["id"])
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["status"] == "open"
    clock.advance(1)
    assert timers.fire(deps(), "expire_bounty", bounty["id"]) != "not_due"
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["status"] == "expired"


def test_a_claim_that_ended_with_its_bounty_is_not_listed_live(api, workers, clock, client_acct, freelancer):
    """A claim without claim_seconds runs to the deadline and has no timer of its own (the bounty's expiry ends
    it): once past it, the freelancer's list shows it lapsed, not live with an expiry in the past."""
    key, fkey = client_acct["api_key"], freelancer["api_key"]
    bounty = api.bounty(key, deadline=_at(clock, 120))
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=fkey)

    def listed() -> dict:
        return next(c for c in api.ok("GET", "/v1/claims?limit=100", key=fkey)["items"] if c["id"] == claim["id"])

    assert listed()["status"] == "live"
    _tick(clock, workers, 121)
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["status"] == "expired"
    assert listed()["status"] == "lapsed"



class _TimeLeft:
    """A Lambda context telling the seconds left of its function's time: one value per look, the last one repeated."""

    def __init__(self, *seconds: float):
        self.seconds = list(seconds)

    def get_remaining_time_in_millis(self) -> float:
        return 1000 * (self.seconds.pop(0) if len(self.seconds) > 1 else self.seconds[0])


def _expiring_bounties_due(api, workers, clock, key, count: int) -> list[str]:
    """Bounties past their deadline whose expiry timers the sweep has made messages (and deleted)."""
    workers.drain()
    bounties = [api.bounty(key, deadline=_at(clock, 60))["id"] for _ in range(count)]
    clock.advance(61)
    workers.sweep()
    return bounties


def _feed_timers_once(workers, context) -> list[str]:
    """One batch of the timers queue to its worker, with `context`; what its records named."""
    import json

    runner, named = workers.runner, []
    invoke = runner.invoke

    def noting(name, event, **kw):
        named.extend(json.loads(r["body"])["ref_id"] for r in event["Records"])
        return invoke(name, event, **kw)

    runner.invoke = noting
    try:
        runner.feed_once(workers.timers_queue, context=context)
    finally:
        del runner.invoke
    return named



def _receivable_now(workers) -> dict[str, int]:
    """What the messages of the timers queue that can be received now name, with how many times each was received
    (this look included); the look leaves them receivable for the workers."""
    import json

    sqs, url = workers.runner.sqs, workers.runner._url(workers.timers_queue)
    seen: dict[str, int] = {}
    handles: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                          AttributeNames=["ApproximateReceiveCount"]).get("Messages", []):
        for message in messages:
            seen[json.loads(message["Body"])["ref_id"]] = int(message["Attributes"]["ApproximateReceiveCount"])
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return seen


def _statuses(api, key, bounties) -> list[str]:
    return [api.ok("GET", f"/v1/bounties/{b}", key=key)["status"] for b in bounties]


def test_a_batch_with_too_little_time_left_puts_every_message_back_untried_and_uncounted(api, workers, clock,
                                                                                       client_acct):
    """A timers worker killed by its timeout mid-batch reports nothing: every message comes back as failed, and
    after five kills sits in the DLQ while the sweep has deleted its timer. So it takes a message only while its
    time left holds one at its slowest. The others go back on the queue as new messages, unhandled: reported as
    failures instead, each would count a receive towards the DLQ for a message never tried."""
    key = client_acct["api_key"]
    bounties = _expiring_bounties_due(api, workers, clock, key, 3)
    failed_before = workers.runner.failed_deliveries

    named = _feed_timers_once(workers, _TimeLeft(1.0))

    assert set(bounties) <= set(named)
    assert _statuses(api, key, bounties) == ["open"] * 3  # none handled
    assert workers.runner.failed_deliveries == failed_before  # none reported as failed
    received = _receivable_now(workers)
    assert {b: received.get(b) for b in bounties} == {b: 1 for b in bounties}  # back at once, as never received

    workers.drain()  # with the time a batch has, every message is handled
    assert _statuses(api, key, bounties) == ["expired"] * 3


def test_a_batch_whose_time_runs_low_after_one_message_puts_back_only_the_rest(api, workers, clock, client_acct):
    from chalicelib.workers import queues

    key = client_acct["api_key"]
    bounties = _expiring_bounties_due(api, workers, clock, key, 3)
    enough_for_one = queues.timer_message_seconds() + queues.TimeLeft.ANSWER_SECONDS

    named = _feed_timers_once(workers, _TimeLeft(enough_for_one, enough_for_one - 0.001))

    assert set(bounties) <= set(named)
    first = named[0]  # ours, unless another test left a timer that came due with them
    assert _statuses(api, key, bounties) == ["expired" if b == first else "open" for b in bounties]
    received = _receivable_now(workers)
    assert {b: received.get(b) for b in bounties if b != first} == {b: 1 for b in bounties if b != first}
    workers.drain()
    assert _statuses(api, key, bounties) == ["expired"] * 3


def test_a_sweep_with_too_little_time_left_sends_nothing_and_deletes_nothing(api, workers, clock, client_acct):
    """The sweep stops before work its time left cannot hold (a shard's Query and a batch of sends and deletes at
    their slowest): what it leaves stays filed, and the next run sends it."""
    from chalicelib import config
    from chalicelib.core import timers as timer_rules

    key = client_acct["api_key"]
    workers.drain()
    bounties = [api.bounty(key, deadline=_at(clock, 60))["id"] for _ in range(3)]
    clock.advance(61)
    runner = workers.runner

    def sweep(context=None) -> int:
        return runner.invoke("sweep_timers", runner._scheduled_event("sweep_timers"), context=context).payload["queued"]

    def filed() -> set[str]:
        mine = {timer_rules.shard_of(b, config.timer_shards()) for b in bounties}
        until = timer_rules.due_prefix(clock.now())
        return {t.ref_id for shard in mine for t in deps().repo.due_timers(shard, until=until, limit=1000)}

    assert sweep(_TimeLeft(1.0)) == 0
    assert set(bounties) <= filed()
    assert not set(bounties) & set(_receivable_now(workers))

    assert sweep() >= 3  # the next run, with the time a run has
    assert not set(bounties) & filed()
    workers.drain()
    assert _statuses(api, key, bounties) == ["expired"] * 3



def test_the_sweep_sizes_each_batch_to_the_time_left(api, workers, clock, client_acct, monkeypatch):
    """A run with time for only a few calls at their slowest sends smaller batches rather than stopping, and works
    until its time is spent: every due timer is queued while the time left holds a send and a delete."""
    from chalicelib import config
    from devtools import local_iam

    monkeypatch.setenv("TIMER_SHARDS", "1")  # the seven timers under one shard: batches are cut by time alone
    key = client_acct["api_key"]
    workers.drain()
    bounties = [api.bounty(key, deadline=_at(clock, 60))["id"] for _ in range(7)]
    clock.advance(61)
    slowest = config.aws_call_limits().slowest_seconds
    sqs = deps().queue.client
    batches: list[int] = []

    def count(params, **_):
        batches.append(len(params["Entries"]))

    sqs.meta.events.register("before-parameter-build.sqs.SendMessageBatch", count)
    try:
        with local_iam.running("sweep_timers"):  # as that function, with its permissions
            assert timers.sweep(deps(), seconds_left=lambda: 2 * slowest) == 0  # no room for a Query and one timer
            assert timers.sweep(deps(), seconds_left=lambda: 4.5 * slowest) >= 7  # a send and 3 deletes a batch
    finally:
        sqs.meta.events.unregister("before-parameter-build.sqs.SendMessageBatch", count)
    assert batches and max(batches) == 3
    workers.drain()
    assert _statuses(api, key, bounties) == ["expired"] * 7
