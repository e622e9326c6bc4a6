"""After the traffic: every bounty, payout and freelancer the driver made, read back through the API and Stripe."""

from __future__ import annotations

import collections
import time

from bench.soak.actors import Driver
from bench.soak.world import CLOSED, Bounty


class EndOfRun:
    def __init__(self, driver: Driver):
        self.driver = driver
        self.api, self.world, self.record = driver.api, driver.world, driver.record
        self.stats: collections.Counter = collections.Counter()

    def drain(self, seconds: float) -> None:
        """Waits until every bounty is closed and no submission awaits review (timers deciding them), or
        `seconds`."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            open_ones = 0
            for bounty in list(self.world.bounties.values()):
                if bounty.status in CLOSED:
                    continue
                status, seen = self.api.call("GET", f"/v1/bounties/{bounty.id}", key=bounty.client.key,
                                             expect=(200,))
                if status == 200:
                    bounty.status = seen["status"]
                if bounty.status not in CLOSED:
                    open_ones += 1
            pending = []
            for client in self.world.clients:
                pending += self.api.pages("/v1/submissions", client.key, limit=100)
            print(f"[soak] draining: {open_ones} bounties not closed, {len(pending)} submissions awaiting review",
                  flush=True)
            if not open_ones and not pending:
                return
            time.sleep(10)
        self.record.finding("drain", "bounties or submissions still open after the drain")

    def check(self, *, settle_seconds: float, timers_drained: bool = True) -> dict:
        """Every invariant the driver can read. With `timers_drained` false (a run shorter than the timers'
        windows), bounties may still be open and work still awaiting review, so that is not a finding."""
        payouts = self._payouts_once_paid(settle_seconds)
        by_submission = collections.defaultdict(list)
        for items in payouts.values():
            for payout in items:
                by_submission[payout["submission_id"]].append(payout)
        self._check_freelancers(payouts)
        transfers = collections.defaultdict(list)
        for bounty in list(self.world.bounties.values()):
            self._check_bounty(bounty, by_submission, timers_drained)
            self._transfers_of(bounty, transfers)
        self._check_transfers(by_submission, transfers)
        self.stats["transfers"] = sum(len(items) for items in transfers.values())
        return dict(self.stats)

    def _payouts_once_paid(self, settle_seconds: float) -> dict[str, list[dict]]:
        """Each freelancer's payouts once all are paid, or as they are after `settle_seconds`: payouts settle
        a few seconds after their decision, through the workers and Stripe's webhook."""
        until = time.monotonic() + settle_seconds
        while True:
            payouts = {f.id: self.api.pages("/v1/payouts", f.key, limit=100) for f in self.world.freelancers}
            unpaid = [p for items in payouts.values() for p in items if p["status"] != "paid"]
            if not unpaid or time.monotonic() > until:
                return payouts
            print(f"[soak] {len(unpaid)} payouts not paid yet ({collections.Counter(p['status'] for p in unpaid)})",
                  flush=True)
            time.sleep(min(10, max(1, settle_seconds / 10)))

    def _check_freelancers(self, payouts: dict[str, list[dict]]) -> None:
        record = self.record
        for freelancer in self.world.freelancers:
            mine = payouts[freelancer.id]
            for payout in mine:
                self.stats[f"payouts_{payout['status']}"] += 1
                if payout["status"] != "paid":
                    record.finding("payouts", f"a payout left {payout['status']} for an onboarded freelancer",
                                   payout=payout["id"], freelancer=freelancer.id)
                elif not (payout["transfer_id"] or "").startswith("tr_"):
                    record.finding("payouts", "a paid payout without its transfer id", payout=payout["id"])
            me = self.api.call("GET", "/v1/accounts/me", key=freelancer.key, expect=(200,))[1]
            paid = [p for p in mine if p["status"] == "paid"]
            if me is None or len(paid) != len(mine):
                continue  # still being paid (reported above): their totals move meanwhile
            earned = sum(p["amount"]["amount"] for p in paid)
            shown = sum(m["amount"] for m in me["earned"] or [])
            if shown != earned:
                record.finding("accounts", "earned is not the sum of the paid payouts", freelancer=freelancer.id,
                               shown=me["earned"], paid=earned)
            if me["completed"] != len(paid):
                record.finding("accounts", "completed is not the number of paid payouts", freelancer=freelancer.id,
                               completed=me["completed"], paid=len(paid))
            given = self.world.ratings.get(freelancer.id, [])
            rating = me["rating"] or {"mean": None, "count": 0}
            if rating["count"] != len(given) or (given and abs(rating["mean"] - sum(given) / len(given)) > 0.01):
                record.finding("accounts", "rating is not the ratings given", freelancer=freelancer.id,
                               shown=rating, given=given)
            if not me["payouts_enabled"]:
                record.finding("accounts", "an onboarded freelancer without payouts_enabled",
                               freelancer=freelancer.id)

    def _check_bounty(self, bounty: Bounty, by_submission: dict[str, list[dict]], timers_drained: bool) -> None:
        record, owner = self.record, bounty.client.key
        self.stats["bounties"] += 1
        seen = self.api.call("GET", f"/v1/bounties/{bounty.id}", key=owner, expect=(200,))[1]
        ledger = self.api.call("GET", f"/v1/bounties/{bounty.id}/ledger", key=owner, expect=(200,))[1]
        submissions = self.api.pages(f"/v1/bounties/{bounty.id}/submissions", owner, limit=100)
        if not seen or not ledger:
            return
        self.stats[f"bounty_{seen['status']}"] += 1
        totals = ledger["totals"]
        self.driver.check_totals(bounty, totals)
        counts = collections.Counter(s["status"] for s in submissions)
        self.stats["submissions"] += len(submissions)
        self.stats["approved"] += counts["approved"]
        self.stats["auto_approved"] += sum(1 for s in submissions if s["auto_approved"])
        if timers_drained and seen["status"] not in CLOSED | {"funding_failed"}:
            record.finding("lifecycle", f"a bounty still {seen['status']} long after its deadline", bounty=bounty.id)
        if timers_drained and counts["pending_review"]:
            record.finding("lifecycle", "a submission still pending after its review window", bounty=bounty.id)
        if counts["approved"] > bounty.slots:
            record.finding("slots", "more approved submissions than slots", bounty=bounty.id, slots=bounty.slots,
                           approved=counts["approved"])
        if seen["status"] == "completed" and counts["approved"] != bounty.slots:
            record.finding("slots", "completed without every slot approved", bounty=bounty.id)
        if seen["status"] in CLOSED and seen["slots_left"] != 0:
            self.stats["closed_with_slots_left"] += 1
        approved = [s for s in submissions if s["status"] == "approved"]
        for submission in approved:
            mine = by_submission.get(submission["id"], [])
            if len(mine) != 1 or mine[0]["id"] != submission["payout_id"]:
                record.finding("payouts", "an approved submission without exactly one payout (its own)",
                               submission=submission["id"], payouts=[p["id"] for p in mine])
        approved_ids = {s["id"] for s in approved}
        for sid, work in list(self.world.approved.items()):
            if work.bounty is bounty and sid not in approved_ids:
                record.finding("lifecycle", "a submission answered approved is no longer approved", submission=sid)
        paid_rewards = bounty.reward * sum(1 for s in approved if by_submission.get(s["id"]) and
                                           by_submission[s["id"]][0]["status"] == "paid")
        if totals["paid_out"] != paid_rewards:
            record.finding("ledger", "paid_out is not the rewards of the paid payouts", bounty=bounty.id,
                           totals=totals, paid=paid_rewards)
        # Work handed in before a cancel keeps its slot's money held until it is decided, by its client or by the
        # auto-approval timer.
        if seen["status"] in CLOSED and not counts["pending_review"] and totals["held"] != 0:
            record.finding("ledger", f"held is not 0 on a settled {seen['status']} bounty", bounty=bounty.id,
                           totals=totals)
        if totals["funded"] == 0 and (totals["paid_out"] or totals["refunded"]):
            record.finding("ledger", "money moved on a bounty never funded", bounty=bounty.id, totals=totals)

    def _transfers_of(self, bounty: Bounty, transfers: dict[str, list]) -> None:
        """Stripe's transfers of the bounty's transfer group, by the payout each names."""
        try:
            listed = self.driver.stripe.v1.transfers.list({"transfer_group": bounty.id, "limit": 100})
            for transfer in listed.auto_paging_iter():
                transfers[transfer.to_dict()["metadata"].get("payout_id")].append(transfer)
        except Exception as error:  # noqa: BLE001 - any refusal of Stripe's is worth a line in the report
            self.record.finding("stripe", f"listing transfers: {type(error).__name__}", error=str(error)[:300])

    def _check_transfers(self, by_submission: dict[str, list[dict]], transfers: dict[str, list]) -> None:
        for items in by_submission.values():
            for payout in items:
                made = transfers.get(payout["id"], [])
                if payout["status"] == "paid" and (len(made) != 1 or made[0]["id"] != payout["transfer_id"] or
                                                   made[0]["amount"] != payout["amount"]["amount"]):
                    self.record.finding("stripe", "a paid payout without exactly one matching transfer on Stripe",
                                        payout=payout["id"], transfers=[t["id"] for t in made])
