"""Clients and freelancers acting at random on the API, each action checking what it can know of the answer."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests

from bench.soak.api import Api
from bench.soak.record import Record
from bench.soak.world import CLOSED, Bounty, Person, Work, World, in_seconds, parse_time


@dataclass(frozen=True)
class Windows:
    """How far ahead bounties are due (seconds, at random between the two) and how long their review and claim
    windows run."""
    deadline: tuple[int, int]
    review: int
    claim: int


# The shortest the API takes, so that the timers decide work (expiries, auto-approvals, lapses) within a soak.
SOAK_WINDOWS = Windows(deadline=(60, 120), review=60, claim=60)
# A smoke run's checks read bounties within a minute of their posting: no timer may change them meanwhile.
SMOKE_WINDOWS = Windows(deadline=(3600, 3600), review=3600, claim=3600)


class Driver:
    def __init__(self, api: Api, record: Record, world: World, stripe_base: str, windows: Windows = SOAK_WINDOWS):
        self.api, self.record, self.world = api, record, world
        self.windows = windows
        import stripe

        self.stripe = stripe.StripeClient("sk_test_local", base_addresses={"api": stripe_base})

    # people

    def account(self, role: str) -> Person:
        status, body = self.api.call("POST", "/v1/accounts", {
            "role": role, "name": f"soak {role} {uuid.uuid4().hex[:6]}",
            "email": f"{uuid.uuid4().hex[:12]}@example.com"}, expect=(201,))
        if status != 201:
            raise RuntimeError(f"could not create an account: {status} {body}")
        return Person(body["id"], body["api_key"], role)

    def onboard(self, person: Person) -> None:
        status, body = self.api.call("POST", "/v1/accounts/me/payout-onboarding", key=person.key, expect=(200,))
        if status != 200:
            return
        try:
            answer = self.api._session().post(body["url"], data=b"", timeout=30)
        except requests.RequestException as error:
            self.record.finding("transport", "onboarding link", error=str(error)[:300])
            return
        if answer.status_code >= 400:
            self.record.finding("onboarding", f"the onboarding link answered {answer.status_code}",
                                body=answer.text[:300])
            return
        person.onboarded = True

    # clients

    def post_bounty(self) -> None:
        client = self.world.pick(self.world.clients)
        slots = random.randint(1, 5)
        reward = random.choice([50, 99, 250, 500, 777, 1000])
        how = random.choices(["visa", "declined", "secret", "unpaid"], weights=[6, 2, 2, 1])[0]
        body = {"title": f"Soak task {uuid.uuid4().hex[:6]}", "description": "Soak-test work.",
                "reward": {"amount": reward, "currency": "usd"}, "slots": slots,
                "deadline": in_seconds(random.randint(*self.windows.deadline) + 2),
                "review_window_seconds": self.windows.review, "tags": [random.choice(["soak", "images", "text"])]}
        if random.random() < 0.6:
            body["claim_seconds"] = self.windows.claim
        if random.random() < 0.5:
            body["estimated_minutes"] = random.randint(1, 60)
        if how in ("visa", "declined"):
            body["payment_method"] = "pm_card_visa" if how == "visa" else "pm_card_chargeDeclined"
        key = f"soak-{uuid.uuid4().hex}" if random.random() < 0.5 else None
        status, bounty = self.api.call("POST", "/v1/bounties", body, key=client.key, idempotency_key=key,
                                       expect=(201,))
        if status != 201:
            return
        self.record.action(f"post_{how}")
        expected = {"visa": "open", "declined": "funding_failed"}.get(how, "awaiting_funding")
        if bounty["status"] != expected:
            self.record.finding("funding", f"a bounty paid with {how} answered {bounty['status']}, not {expected}",
                                bounty=bounty["id"])
        fee = bounty["funding"]["fee"]
        if bounty["funding"]["amount_total"] != reward * slots + fee:
            self.record.finding("money", "amount_total is not reward x slots + fee", bounty=bounty["id"])
        if key and random.random() < 0.5:  # the same POST again: the first answer, byte for byte
            again_status, again = self.api.call("POST", "/v1/bounties", body, key=client.key, idempotency_key=key)
            self.record.action("idempotent_replay")
            if (again_status, again) != (status, bounty):
                self.record.finding("idempotency", "POST /v1/bounties replayed differently",
                                    first=[status, bounty.get("id"), bounty.get("status")],
                                    again=[again_status, (again or {}).get("id"), (again or {}).get("status")])
            other = dict(body, title=body["title"] + " (edited)")
            reused, answer = self.api.call("POST", "/v1/bounties", other, key=client.key, idempotency_key=key,
                                           expect=(409,))
            if reused == 409 and answer["error"]["code"] != "idempotency_key_reused":
                self.record.finding("idempotency", "another body under a key: not idempotency_key_reused",
                                    body=answer)
        record = Bounty(bounty["id"], client, slots, reward, body.get("claim_seconds"), parse_time(body["deadline"]),
                        bounty["funding"]["amount_total"], bounty["funding"]["payment_intent_id"], bounty["status"])
        with self.world.lock:
            self.world.bounties[record.id] = record
        if how == "declined" and random.random() < 0.8:
            time.sleep(random.uniform(0, 2))
            status, funded = self.api.call("POST", f"/v1/bounties/{record.id}/fund",
                                           {"payment_method": "pm_card_visa"}, key=client.key,
                                           idempotency_key=f"fund-{uuid.uuid4().hex}", expect=(200, 409))
            self.record.action("fund_again")
            if status == 200 and funded["status"] != "open":
                self.record.finding("funding", f"funding again with a good card answered {funded['status']}",
                                    bounty=record.id)
        elif how == "secret":
            time.sleep(random.uniform(0, 3))
            try:
                intent = self.stripe.v1.payment_intents.confirm(record.payment_intent_id,
                                                                {"payment_method": "pm_card_visa"})
                self.record.action("paid_with_client_secret")
                if intent["status"] != "succeeded":
                    self.record.finding("funding", f"confirming the intent: {intent['status']}", bounty=record.id)
            except Exception as error:  # noqa: BLE001 - any refusal of Stripe's is worth a line in the report
                status, seen = self.api.call("GET", f"/v1/bounties/{record.id}", key=client.key, expect=(200,))
                if "canceled" in str(error) and status == 200 and seen["status"] in CLOSED:
                    self.record.action("paid_after_close_refused")  # closed unpaid: its intent was cancelled
                    return
                self.record.finding("stripe", f"confirm with the client secret: {type(error).__name__}",
                                    error=str(error)[:300], bounty=record.id)

    def review(self) -> None:
        work = self.world.pick(w for w in self.world.submissions.values() if w.status == "pending_review")
        if work is None:
            return
        if random.random() < 0.3:  # the client goes silent: auto-approval will decide
            self.record.action("silent")
            with self.world.lock:
                work.status = "silent"
            return
        owner = work.bounty.client
        if random.random() < 0.7:
            body = {"rating": random.randint(1, 5)} if random.random() < 0.8 else {}
            if body and random.random() < 0.5:
                body["feedback"] = "Thanks"
            key = f"approve-{uuid.uuid4().hex}" if random.random() < 0.3 else None
            status, answer = self.api.call("POST", f"/v1/submissions/{work.id}/approve", body, key=owner.key,
                                           idempotency_key=key, expect=(200, 409))
            self.record.action("approve")
            if key and status == 200:
                again = self.api.call("POST", f"/v1/submissions/{work.id}/approve", body, key=owner.key,
                                      idempotency_key=key)
                self.record.action("idempotent_replay")
                if again != (status, answer):
                    self.record.finding("idempotency", "approve replayed differently", submission=work.id)
            self._note_decision(work, status, answer)
        else:
            status, answer = self.api.call("POST", f"/v1/submissions/{work.id}/reject", {"reason": "Not what I asked"},
                                           key=owner.key, expect=(200, 409))
            self.record.action("reject")
            self._note_decision(work, status, answer)

    def overturn(self) -> None:
        work = self.world.pick(w for w in self.world.submissions.values() if w.status == "rejected")
        if work is None:
            return
        status, answer = self.api.call("POST", f"/v1/submissions/{work.id}/approve", {"rating": 4},
                                       key=work.bounty.client.key, expect=(200, 409))
        self.record.action("overturn")
        self._note_decision(work, status, answer)

    def _note_decision(self, work: Work, status: int, answer) -> None:
        if status == 200:
            with self.world.lock:
                work.status = answer["status"]
                if answer["status"] == "approved":
                    self.world.approved[work.id] = work
                    if answer["rating"] is not None:
                        self.world.ratings[work.freelancer.id].append(answer["rating"])
                    if not answer.get("payout_id"):
                        self.record.finding("payouts", "an approval answered without a payout_id", submission=work.id)
        elif status == 409:  # decided meanwhile (auto-approved), or out of escrow: read what it is
            code, now = self.api.call("GET", f"/v1/submissions/{work.id}", key=work.bounty.client.key, expect=(200,))
            if code == 200:
                with self.world.lock:
                    work.status = now["status"]
                    if now["status"] == "approved":
                        self.world.approved[work.id] = work

    def cancel(self) -> None:
        bounty = self.world.pick(b for b in self.world.bounties.values() if b.status not in CLOSED)
        if bounty is None:
            return
        status, answer = self.api.call("POST", f"/v1/bounties/{bounty.id}/cancel", key=bounty.client.key,
                                       idempotency_key=f"cancel-{uuid.uuid4().hex}", expect=(200, 409))
        self.record.action("cancel")
        if status == 200:
            bounty.status = answer["status"]
            past = datetime.now(UTC) >= bounty.deadline - timedelta(seconds=2)  # past it, a cancel expires it
            if answer["status"] != "cancelled" and not (past and answer["status"] == "expired"):
                self.record.finding("lifecycle", f"cancel answered {answer['status']}", bounty=bounty.id)

    # freelancers

    def claim(self) -> None:
        freelancer = self.world.pick(self.world.freelancers)
        listed = self.api.call("GET", f"/v1/bounties?limit={random.choice([5, 20, 50])}", key=freelancer.key,
                               expect=(200,))[1]
        if not listed or not listed["items"]:
            return
        bounty = self.world.bounties.get(random.choice(listed["items"])["id"])
        if bounty is None:
            return
        key = f"claim-{uuid.uuid4().hex}" if random.random() < 0.2 else None
        status, claim = self.api.call("POST", f"/v1/bounties/{bounty.id}/claims", key=freelancer.key,
                                      idempotency_key=key, expect=(201, 404, 409))
        self.record.action("claim")
        if status == 201:
            if key:
                again = self.api.call("POST", f"/v1/bounties/{bounty.id}/claims", key=freelancer.key,
                                      idempotency_key=key)
                self.record.action("idempotent_replay")
                if again != (status, claim):
                    self.record.finding("idempotency", "claim replayed differently", claim=claim["id"])
            with self.world.lock:
                self.world.claims[claim["id"]] = Work(claim["id"], bounty, freelancer, "live",
                                                      parse_time(claim["expires_at"]))
            roll = random.random()
            if roll < 0.55:
                time.sleep(random.uniform(0, 4))
                self.submit(bounty, freelancer, claim["id"])
            elif roll < 0.7:
                self.release(claim["id"])
            # else: the claim is left to lapse, or submitted on later

    def submit(self, bounty: Bounty | None = None, freelancer: Person | None = None, claim_id: str | None = None):
        if bounty is None:
            if random.random() < 0.5:  # on a claim of theirs, or straight onto a listed bounty without a claim
                claim = self.world.pick(c for c in self.world.claims.values() if c.status == "live")
                if claim is None:
                    return
                bounty, freelancer, claim_id = claim.bounty, claim.freelancer, claim.id
            else:
                bounty = self.world.pick(b for b in self.world.bounties.values() if b.status == "open")
                freelancer = self.world.pick(self.world.freelancers)
                if bounty is None:
                    return
        body = {"content": f"Done {uuid.uuid4().hex[:8]}"}
        if random.random() < 0.5:
            body["links"] = ["https://example.com/work.zip"]
        key = f"submit-{uuid.uuid4().hex}" if random.random() < 0.2 else None
        status, submission = self.api.call("POST", f"/v1/bounties/{bounty.id}/submissions", body,
                                           key=freelancer.key, idempotency_key=key, expect=(201, 409, 404))
        self.record.action("submit_on_claim" if claim_id else "submit_unclaimed")
        if status == 201:
            if key:
                again = self.api.call("POST", f"/v1/bounties/{bounty.id}/submissions", body, key=freelancer.key,
                                      idempotency_key=key)
                self.record.action("idempotent_replay")
                if again != (status, submission):
                    self.record.finding("idempotency", "submission replayed differently", submission=submission["id"])
            with self.world.lock:
                self.world.submissions[submission["id"]] = Work(submission["id"], bounty, freelancer,
                                                                "pending_review", claim_id=submission["claim_id"])
                if submission["claim_id"] in self.world.claims:
                    self.world.claims[submission["claim_id"]].status = "used"
            if bounty.claim_seconds and not submission["claim_id"]:
                self.record.finding("rules", "a submission without a claim on a bounty with claim_seconds",
                                    submission=submission["id"])

    def release(self, claim_id: str | None = None) -> None:
        if claim_id is None:
            claim = self.world.pick(c for c in self.world.claims.values() if c.status == "live")
            if claim is None:
                return
            claim_id = claim.id
        claim = self.world.claims[claim_id]
        status, _ = self.api.call("POST", f"/v1/claims/{claim_id}/release", key=claim.freelancer.key,
                                  expect=(200, 409))
        self.record.action("release")
        if status == 200:
            claim.status = "released"

    def message(self) -> None:
        if random.random() < 0.5:
            work = self.world.pick(list(self.world.claims.values()) + list(self.world.submissions.values()))
            if work is None:
                return
            who, bounty = work.freelancer, work.bounty
        else:
            bounty = self.world.pick(self.world.bounties.values())
            if bounty is None:
                return
            who = bounty.client
        status, _ = self.api.call("POST", f"/v1/bounties/{bounty.id}/messages", {"body": "Any questions?"},
                                  key=who.key, expect=(201,))
        self.record.action("message")
        if status == 201 and random.random() < 0.5:
            self.api.pages(f"/v1/bounties/{bounty.id}/messages", who.key, limit=5)

    def onboard_late(self) -> None:
        freelancer = self.world.pick(f for f in self.world.freelancers if not f.onboarded)
        if freelancer is not None:
            self.onboard(freelancer)
            self.record.action("onboard_late")

    # reads

    def browse(self) -> None:
        roll = random.random()
        if roll < 0.3:
            items = self.api.pages("/v1/bounties?tag=soak", None, limit=random.choice([3, 10]), max_pages=10)
            self.in_order(items, "created_at", newest_first=True, what="GET /v1/bounties")
            stale = [b["id"] for b in items if b["status"] != "open"]
            if stale:
                self.record.finding("list", "the open listing shows a bounty that is not open", ids=stale[:3])
        elif roll < 0.5:
            client = self.world.pick(self.world.clients)
            mine = self.api.pages("/v1/bounties?mine=true", client.key, limit=10, max_pages=5)
            self.in_order(mine, "created_at", newest_first=True, what="GET /v1/bounties?mine=true")
            queue = self.api.pages("/v1/submissions", client.key, limit=10, max_pages=5)
            self.in_order(queue, "auto_approve_at", newest_first=False, what="the review queue")
        elif roll < 0.75:
            freelancer = self.world.pick(self.world.freelancers)
            self.api.pages("/v1/payouts", freelancer.key, limit=10, max_pages=5)
            self.api.pages("/v1/claims", freelancer.key, limit=10, max_pages=3)
            self.api.call("GET", "/v1/accounts/me", key=freelancer.key, expect=(200,))
        else:
            bounty = self.world.pick(self.world.bounties.values())
            if bounty is None:
                return
            status, ledger = self.api.call("GET", f"/v1/bounties/{bounty.id}/ledger", key=bounty.client.key,
                                           expect=(200,))
            if status == 200:
                self.check_totals(bounty, ledger["totals"])
            status, seen = self.api.call("GET", f"/v1/bounties/{bounty.id}", key=bounty.client.key, expect=(200,))
            if status == 200:
                bounty.status = seen["status"]
        self.record.action("browse")

    def in_order(self, items: list[dict], field_name: str, *, newest_first: bool, what: str) -> None:
        """Pages read one after the other may miss or gain an item changed meanwhile, but never go backwards."""
        times = [item[field_name] for item in items]
        if times != sorted(times, reverse=newest_first):
            self.record.finding("list", f"{what} out of order by {field_name}", ids=[i["id"] for i in items][:20])

    def check_totals(self, bounty: Bounty, totals: dict) -> None:
        if totals["funded"] != totals["paid_out"] + totals["fees"] + totals["refunded"] + totals["held"]:
            self.record.finding("ledger", "funded != paid_out + fees + refunded + held", bounty=bounty.id,
                                totals=totals)
        if min(totals.values()) < 0:
            self.record.finding("ledger", "a negative total", bounty=bounty.id, totals=totals)
        if totals["funded"] not in (0, bounty.amount_total):
            self.record.finding("ledger", "funded is neither 0 nor the amount paid", bounty=bounty.id,
                                totals=totals, amount_total=bounty.amount_total)

    ACTIONS = {"post_bounty": 9, "claim": 16, "submit": 8, "release": 2, "review": 14, "overturn": 2,
               "cancel": 1.5, "message": 4, "onboard_late": 1, "browse": 8}

    def step(self) -> None:
        name = random.choices(list(self.ACTIONS), weights=list(self.ACTIONS.values()))[0]
        getattr(self, name)()

