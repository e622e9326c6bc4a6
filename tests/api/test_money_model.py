"""A stateful model of the money: hypothesis drives random sequences of what clients, freelancers, time and the
queues can do, in any order, and after every step checks what must always hold.

Actions: post and fund a bounty, claim, release, submit, approve, reject, cancel, let time pass (across claim,
review and deadline windows, then the timer sweep), run the workers for one batch or until idle, and deliver
queue messages again (re-sent in reverse order, and duplicated inside one batch handed straight to a handler).

After every step, for every bounty: the slot counts add up (core.rules.check_slots) and match the claims and
submissions that hold them; the ledger never pays out more than was funded; every approved submission has exactly
one payout, and what the ledger paid out is exactly the reward of the paid ones. After the workers run until idle,
Stripe agrees with every ledger (services.reconcile) and holds at most one transfer per payout.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib import config
from chalicelib.bootstrap import deps
from chalicelib.core import ledger, rules
from chalicelib.core.model import (
    APPROVED,
    AUTO_APPROVE,
    EXPIRE_BOUNTY,
    LAPSE_CLAIM,
    LIVE,
    OPEN,
    PAID,
    PENDING_REVIEW,
    Bounty,
    Claim,
    Payout,
    Submission,
)
from chalicelib.repository import Ref
from chalicelib.services.reconcile import reconcile_bounty

pytestmark = pytest.mark.slow

REWARD = 500
WINDOWS = (60, 120, 300)  # claim and review windows: the minimum, and a little more
DEADLINES = (90, 600, 1800)
STEPS = (1, 30, 59, 61, 121, 301, 700)  # lands just before, on and after the windows above
SEED = 0  # of the examples; MONEY_MODEL_SEED=<n> runs others


def _record(queue: str, body: dict) -> dict:
    return {"messageId": uuid.uuid4().hex, "receiptHandle": uuid.uuid4().hex, "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
            "eventSource": "aws:sqs", "awsRegion": "us-east-1",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}"}


def _read(kind: type, ids: list[str]) -> list:
    """The records of one kind by id, in one strongly consistent BatchGetItem per hundred: the checks after every step
    read every bounty and payout of the example, and a round trip for each took most of the run's time."""
    repo = deps().repo
    return [record for start in range(0, len(ids), 100)
            for record in repo.get_many([Ref(kind, record_id) for record_id in ids[start:start + 100]])]


def money_model(api, workers, clock, client_key: str, freelancers: list[dict], seen: Counter):
    """The machine's class, closed over the test's fixtures (hypothesis builds one machine per example);
    `seen` tallies what the examples reached, so a model that never reaches the interesting states fails."""

    class MoneyModel(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.bounty_ids: list[str] = []
            self.claim_ids: dict[str, str] = {}  # claim -> bounty
            self.submission_ids: dict[str, str] = {}  # submission -> bounty

        def call(self, method, path, body=None, *, key, allowed):
            code, answer = api.call(method, path, body, key=key)
            assert code in allowed, (method, path, code, answer)
            seen[f"{path.rsplit('/', 1)[-1]} {code}"] += 1
            return code, answer

        def pick(self, data, likely: list, anything: list, label: str):
            """Mostly a record where the action can succeed, sometimes any (to see the refusals too)."""
            pool = likely if likely and data.draw(st.integers(0, 4), label=f"{label}: any?") else anything
            return data.draw(st.sampled_from(pool), label=label) if pool else None

        def open_bounties(self) -> list[str]:
            bounties = _read(Bounty, self.bounty_ids)
            return [bounty.id for bounty in bounties if bounty.status == OPEN and bounty.free_slots]

        # -- clients --

        @initialize()
        def first_bounty(self):
            self._post(slots=2, claim_seconds=None, review=60, deadline=600)

        @initialize()
        def a_claim_nobody_works_under(self):
            """A claim with the shortest window, on a bounty of its own: any step of time past it lapses it (claims
            the rules make lapse only when one is made and then left alone long enough, which few examples do)."""
            self._post(slots=1, claim_seconds=WINDOWS[0], review=60, deadline=DEADLINES[-1])
            code, answer = self.call("POST", f"/v1/bounties/{self.bounty_ids[-1]}/claims", {},
                                     key=freelancers[0]["api_key"], allowed=(201,))
            self.claim_ids[answer["id"]] = self.bounty_ids[-1]

        @rule(slots=st.integers(1, 3), claim_seconds=st.sampled_from((None, *WINDOWS)),
              review=st.sampled_from(WINDOWS), deadline=st.sampled_from(DEADLINES))
        def post_bounty(self, slots, claim_seconds, review, deadline):
            self._post(slots=slots, claim_seconds=claim_seconds, review=review, deadline=deadline)

        def _post(self, *, slots, claim_seconds, review, deadline):
            at = (clock.now() + timedelta(seconds=deadline)).strftime("%Y-%m-%dT%H:%M:%SZ")
            bounty = api.bounty(client_key, slots=slots, claim_seconds=claim_seconds, review_window_seconds=review,
                                deadline=at, reward={"amount": REWARD, "currency": "usd"})
            assert bounty["status"] == OPEN, bounty
            self.bounty_ids.append(bounty["id"])

        @rule(data=st.data(), really=st.integers(0, 3))
        def cancel(self, data, really):
            if really:  # a client cancels now and then; most bounties should live long enough to see work
                return
            bounty = self.pick(data, self.open_bounties(), self.bounty_ids, "bounty")
            self.call("POST", f"/v1/bounties/{bounty}/cancel", {}, key=client_key, allowed=(200, 409))

        @precondition(lambda self: self.submission_ids)
        @rule(data=st.data(), verdict=st.sampled_from(("approve", "approve", "reject")))
        def review(self, data, verdict):
            """The client decides on work handed in (now and then on work already decided: a 409, or an overturn)."""
            pending = [s.id for s in _read(Submission, list(self.submission_ids)) if s.status == PENDING_REVIEW]
            submission = self.pick(data, pending, list(self.submission_ids), "submission")
            body = {"rating": 4} if verdict == "approve" else {"reason": "not yet"}
            self.call("POST", f"/v1/submissions/{submission}/{verdict}", body, key=client_key, allowed=(200, 409))

        # -- freelancers --

        @rule(data=st.data(), who=st.sampled_from(range(len(freelancers))), then_submit=st.booleans())
        def claim(self, data, who, then_submit):
            bounty = self.pick(data, self.open_bounties(), self.bounty_ids, "bounty")
            code, answer = self.call("POST", f"/v1/bounties/{bounty}/claims", {}, key=freelancers[who]["api_key"],
                                     allowed=(201, 404, 409))
            if code == 201:
                self.claim_ids[answer["id"]] = bounty
            if then_submit:  # the usual way: a claim, then the work under it
                self._submit(bounty, who)

        @precondition(lambda self: self.claim_ids)
        @rule(data=st.data())
        def release(self, data):
            claims = {c.id: c for c in _read(Claim, list(self.claim_ids))}
            live = [c for c in self.claim_ids if claims[c].status == LIVE]
            claim = self.pick(data, live, list(self.claim_ids), "claim")
            owner = next(f for f in freelancers if claims[claim].freelancer_id == f["id"])
            self.call("POST", f"/v1/claims/{claim}/release", {}, key=owner["api_key"], allowed=(200, 409))

        @rule(data=st.data(), who=st.sampled_from(range(len(freelancers))))
        def submit(self, data, who):
            self._submit(self.pick(data, self.open_bounties(), self.bounty_ids, "bounty"), who)

        def _submit(self, bounty, who):
            code, answer = self.call("POST", f"/v1/bounties/{bounty}/submissions", {"content": "done"},
                                     key=freelancers[who]["api_key"], allowed=(201, 404, 409))
            if code == 201:
                self.submission_ids[answer["id"]] = bounty

        # -- time and the queues --

        @rule(seconds=st.sampled_from(STEPS))
        def time_passes(self, seconds):
            clock.advance(seconds)
            workers.sweep()  # due timers go to their queue; the workers take them when they next run

        @rule()
        def one_batch(self):
            workers.run_once()

        @rule()
        def until_idle(self):
            workers.drain()
            payouts = self._payouts()
            for bounty_id in self.bounty_ids:
                assert reconcile_bounty(deps(), bounty_id) == [], bounty_id
                transfers = workers.transfers_for(bounty_id)
                payout_ids = [t["metadata"]["payout_id"] for t in transfers]
                assert len(payout_ids) == len(set(payout_ids)), transfers
                paid = [p for p in payouts[bounty_id] if p.status == PAID]
                assert sorted(p.transfer_id for p in paid) == sorted(t["id"] for t in transfers), bounty_id

        @rule(data=st.data())
        def deliver_again(self, data):
            """Messages SQS may deliver twice or out of order: re-sent in reverse, and twice in one batch."""
            messages = [(config.payouts_queue_name(), {"payout_id": rules.payout_id_for(s)})
                        for s in self.submission_ids]
            messages += [(config.refunds_queue_name(), {"bounty_id": b}) for b in self.bounty_ids]
            messages += [(config.timers_queue_name(), {"kind": EXPIRE_BOUNTY, "ref_id": b}) for b in self.bounty_ids]
            messages += [(config.timers_queue_name(), {"kind": LAPSE_CLAIM, "ref_id": c}) for c in self.claim_ids]
            messages += [(config.timers_queue_name(), {"kind": AUTO_APPROVE, "ref_id": s})
                         for s in self.submission_ids]
            chosen = data.draw(st.lists(st.sampled_from(messages), max_size=4, unique_by=lambda m: json.dumps(m)))
            for queue, body in reversed(chosen):
                workers.deliver_again(queue, body)
            if chosen and data.draw(st.booleans(), label="straight to the handler, twice in one batch"):
                queue, body = chosen[0]
                handler = workers.runner.queue_handlers[queue]
                workers.runner.invoke(handler, {"Records": [_record(queue, body)] * 2})

        # -- what must always hold --

        def _payouts(self) -> dict[str, list]:
            """Each bounty's payouts: those of its submissions (none for a submission never approved)."""
            found = {bounty_id: [] for bounty_id in self.bounty_ids}
            submissions = list(self.submission_ids)
            for submission_id, payout in zip(submissions, _read(Payout, [rules.payout_id_for(s) for s in submissions]),
                                             strict=True):
                if payout is not None:
                    found[self.submission_ids[submission_id]].append(payout)
            return found

        @invariant()
        def slots_and_money_add_up(self):
            repo = deps().repo
            all_payouts = self._payouts()
            for bounty in _read(Bounty, self.bounty_ids):
                bounty_id = bounty.id
                rules.check_slots(bounty)
                subs = repo.list_bounty_submissions(bounty_id, limit=100, cursor=None).items
                assert sum(s.status == PENDING_REVIEW for s in subs) == bounty.pending_slots, bounty
                assert sum(s.status == APPROVED for s in subs) == bounty.approved_slots, bounty
                if bounty.status == OPEN:
                    live = repo.list_bounty_claims(bounty_id, limit=100, cursor=None).items
                    assert sum(c.status == LIVE for c in live) == bounty.claimed_slots, bounty
                payouts = all_payouts[bounty_id]
                approved = {s.id for s in subs if s.status == APPROVED}
                assert {p.submission_id for p in payouts} == approved, "an approved submission without a payout"
                totals = ledger.totals(repo.list_ledger(bounty_id))
                assert totals.funded == bounty.amount_total and totals.held >= 0, (bounty_id, totals)
                assert totals.paid_out == REWARD * sum(p.status == PAID for p in payouts), (bounty_id, totals)
                # Every settled slot (paid, refunded, or in a refund in flight) moved its reward and its share of the
                # fee exactly once; the shares of all slots add up to the fee.
                paid = sum(p.status == PAID for p in payouts)
                in_flight = bounty.refund_amount if bounty.refund_key else 0
                assert bounty.settled_slots == paid + bounty.refunded_slots + bounty.refunding_slots, bounty
                moved = totals.paid_out + totals.refunded + totals.fees + in_flight
                assert moved == (REWARD * bounty.settled_slots
                                 + rules.fee_share(bounty.fee, bounty.slots, 0, bounty.settled_slots)), (bounty, totals)

        def teardown(self):
            workers.drain()  # nothing of this example is left for the next one to run into
            payouts = self._payouts()
            for bounty in _read(Bounty, self.bounty_ids):
                seen[f"bounty {bounty.status}"] += 1
                seen["slots refunded"] += bounty.refunded_slots
                for payout in payouts[bounty.id]:
                    seen[f"payouts {payout.status}"] += 1
            seen["claims lapsed"] += sum(claim.status == "lapsed" for claim in _read(Claim, list(self.claim_ids)))
            seen["auto-approved"] += sum(s.auto_approved for s in _read(Submission, list(self.submission_ids)))

    return MoneyModel


# What the examples must reach between them, so that the checks ran on money going out both ways and on every timer.
MUST_REACH = ("approve 200", "reject 200", "cancel 200", "release 200", "claims 201", "submissions 201",
              "payouts paid", "slots refunded", "bounty expired", "claims lapsed", "auto-approved")
MAX_ROUNDS = 6


def test_no_sequence_of_actions_loses_or_doubles_money(api, workers, clock, client_acct, payable_freelancer):
    """One freelancer can be paid, the other has not onboarded (their payouts wait); both compete for slots.

    Rounds of a few examples each, every round with a fixed seed of its own, until the examples between them have
    reached every state in MUST_REACH. Fixed seeds, not `derandomize`, which seeds from a digest of the source: a
    change of white space in the model would pick other examples, and a single round might then reach too little."""
    waiting = api.account("freelancer")
    seen: Counter = Counter()
    machine = money_model(api, workers, clock, client_acct["api_key"], [payable_freelancer, waiting], seen)
    first = int(os.environ.get("MONEY_MODEL_SEED", SEED))
    for round_seed in range(first, first + MAX_ROUNDS):
        run_state_machine_as_test(seed(round_seed)(machine), settings=settings(
            max_examples=8, stateful_step_count=25, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
        if all(seen[state] > 0 for state in MUST_REACH):
            break
    print("money model reached:", dict(sorted(seen.items())), "in", round_seed - first + 1, "rounds")
    for state in MUST_REACH:
        assert seen[state] > 0, (state, dict(seen))
