"""A soak of the running local stack: many clients and freelancers at once, for minutes, then every invariant.

    .venv/bin/python -m bench.soak --url http://127.0.0.1:8731 --minutes 12 --threads 12

Talks to a stack `make run` (or `PORT=... python -m devtools.stack`) started from this checkout, over HTTP as any
user's code would, and to its Stripe stand-in with Stripe's SDK (a client paying with the client secret). Every
response is checked against the running API's own OpenAPI document (a status it lists, a body matching its
schema, the error shape) and against API.md's rules where the driver knows the answer (a ledger that balances, an
idempotent POST replayed byte for byte). When the time is up the traffic stops, every freelancer onboards, the
timers drain, and each bounty is checked: ledger, slots, payouts, Stripe's transfers, `ops reconcile`, the dead-
letter queues, the stack's logs and its processes' memory. Exit status 1 when anything was found; a JSON report
(`--report`) holds every finding and the counts.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CLOSED = {"completed", "expired", "cancelled"}
ID_PREFIX = {"bounty": "bty_", "claim": "clm_", "submission": "sub_", "payout": "pay_", "message": "msg_"}


def _in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC)


# -- checking answers against the running API's own document --

class Contract:
    """Statuses and response schemas of every operation, from `GET /v1/openapi.json`."""

    def __init__(self, document: dict):
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:api", resource)
        self.routes: list[tuple[str, re.Pattern, str]] = []
        for path, operations in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method in operations:
                self.routes.append((method.upper(), pattern, path))
        self._validators: dict[tuple[str, str, str], object] = {}
        self._validator_class = Draft202012Validator

    def template(self, method: str, path: str) -> str | None:
        bare = path.split("?", 1)[0]
        for route_method, pattern, template in self.routes:
            if route_method == method and pattern.match(bare):
                return template
        return None

    def problems(self, method: str, path: str, status: int, body, content_type: str) -> list[str]:
        template = self.template(method, path)
        if template is None:
            return [f"no operation in the document for {method} {path}"]
        responses = self.document["paths"][template][method.lower()]["responses"]
        if str(status) not in responses:
            return [f"status {status} not listed for {method} {template} ({sorted(responses)})"]
        if "application/json" not in (content_type or ""):
            return [f"content type {content_type!r}, not JSON"]
        if body is _NOT_JSON:
            return ["body is not JSON"]
        schema = responses[str(status)].get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        key = (template, method, str(status))
        if key not in self._validators:
            self._validators[key] = self._validator_class({"$ref": "urn:api#" + _pointer(template, method, status)},
                                                          registry=self.registry)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                  for e in self._validators[key].iter_errors(body)]
        if status >= 400 and not errors:
            error = body.get("error", {})
            if set(body) != {"error"} or set(error) != {"code", "message"} or not re.fullmatch(
                    r"[a-z][a-z0-9_]*", error.get("code", "")) or not error.get("message"):
                errors.append(f"error body not in the contract's shape: {body}")
        return errors


def _pointer(template: str, method: str, status: int) -> str:
    escaped = template.replace("~", "~0").replace("/", "~1")
    return f"/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"


_NOT_JSON = object()


# -- what was seen --

@dataclass
class Finding:
    kind: str
    detail: str
    example: dict = field(default_factory=dict)
    count: int = 1


class Record:
    def __init__(self):
        self.lock = threading.Lock()
        self.responses: collections.Counter = collections.Counter()  # (method, template, status)
        self.actions: collections.Counter = collections.Counter()
        self.findings: dict[tuple[str, str], Finding] = {}
        self.latencies: list[float] = []
        self.memory: list[dict] = []

    def response(self, method: str, template: str, status: int, seconds: float) -> None:
        with self.lock:
            self.responses[(method, template, status)] += 1
            self.latencies.append(seconds)

    def finding(self, kind: str, detail: str, **example) -> None:
        with self.lock:
            key = (kind, detail)
            if key in self.findings:
                self.findings[key].count += 1
            else:
                self.findings[key] = Finding(kind, detail, example)
                print(f"[soak] FINDING {kind}: {detail} {json.dumps(example, default=str)[:600]}", flush=True)

    def action(self, name: str) -> None:
        with self.lock:
            self.actions[name] += 1


# -- the API over HTTP --

class Api:
    def __init__(self, base_url: str, contract: Contract, record: Record):
        self.base_url = base_url
        self.contract = contract
        self.record = record
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def close(self) -> None:
        """Closes this thread's connections (a client leaving, not resetting them)."""
        if hasattr(self._local, "session"):
            self._local.session.close()
            del self._local.session

    def call(self, method: str, path: str, body=None, key: str | None = None, idempotency_key: str | None = None,
             expect: tuple[int, ...] | None = None):
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body) if body is not None else None
        started = time.monotonic()
        try:
            response = self._session().request(method, self.base_url + path, data=data, headers=headers, timeout=90)
        except requests.RequestException as error:
            self.record.finding("transport", f"{method} {self.contract.template(method, path)}: "
                                f"{type(error).__name__}", error=str(error)[:300])
            return 0, None
        seconds = time.monotonic() - started
        try:
            parsed = response.json()
        except ValueError:
            parsed = _NOT_JSON
        template = self.contract.template(method, path) or path
        self.record.response(method, template, response.status_code, seconds)
        if response.status_code >= 500:
            self.record.finding("5xx", f"{method} {template} -> {response.status_code}",
                                body=response.text[:500], request=body)
        for problem in self.contract.problems(method, path, response.status_code, parsed,
                                              response.headers.get("Content-Type", "")):
            self.record.finding("contract", f"{method} {template} {response.status_code}: {problem}",
                                body=response.text[:500])
        if expect and response.status_code not in expect:
            self.record.finding("unexpected status", f"{method} {template} -> {response.status_code}, expected "
                                f"{expect}", body=response.text[:500], request=body)
        if seconds > 20:
            self.record.finding("slow", f"{method} {template} took over 20 s", seconds=round(seconds, 1))
        return response.status_code, (None if parsed is _NOT_JSON else parsed)

    def pages(self, path: str, key: str | None, limit: int = 20, max_pages: int = 200) -> list[dict]:
        """Every item of a list, page by page with its cursor; a repeated id across pages is a finding."""
        items, seen, cursor = [], set(), None
        for _ in range(max_pages):
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}" + (f"&cursor={requests.utils.quote(cursor)}" if cursor else "")
            status, body = self.call("GET", url, key=key, expect=(200,))
            if status != 200 or not body:
                return items
            for item in body["items"]:
                if item["id"] in seen:
                    self.record.finding("list", f"GET {self.contract.template('GET', path)}: an item twice across "
                                        "pages", id=item["id"])
                seen.add(item["id"])
                items.append(item)
            cursor = body["next_cursor"]
            if not cursor:
                return items
        return items


# -- the world the driver builds --

@dataclass
class Person:
    id: str
    key: str
    role: str
    onboarded: bool = False


@dataclass
class Bounty:
    id: str
    client: Person
    slots: int
    reward: int
    claim_seconds: int | None
    deadline: datetime
    amount_total: int
    payment_intent_id: str | None
    status: str


@dataclass
class Work:
    """A freelancer's claim or submission on a bounty, as the driver last saw it."""
    id: str
    bounty: Bounty
    freelancer: Person
    status: str
    expires_at: datetime | None = None
    claim_id: str | None = None


class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.clients: list[Person] = []
        self.freelancers: list[Person] = []
        self.bounties: dict[str, Bounty] = {}
        self.claims: dict[str, Work] = {}
        self.submissions: dict[str, Work] = {}
        self.approved: dict[str, Work] = {}  # every submission ever answered `approved`
        self.ratings: dict[str, list[int]] = collections.defaultdict(list)  # freelancer id: ratings given

    def pick(self, items):
        with self.lock:
            items = list(items)
        return random.choice(items) if items else None


class Driver:
    def __init__(self, api: Api, record: Record, world: World, stripe_base: str):
        self.api, self.record, self.world = api, record, world
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
                "deadline": _in_seconds(random.randint(60, 120) + 2),
                "review_window_seconds": 60, "tags": [random.choice(["soak", "images", "text"])]}
        if random.random() < 0.6:
            body["claim_seconds"] = 60
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
        record = Bounty(bounty["id"], client, slots, reward, body.get("claim_seconds"), _parse_time(body["deadline"]),
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
                                                      _parse_time(claim["expires_at"]))
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


# -- after the traffic --

def drain(api: Api, world: World, record: Record, seconds: float) -> None:
    """Waits until every bounty is closed and no submission awaits review (timers deciding them), or `seconds`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        open_ones = 0
        for bounty in list(world.bounties.values()):
            if bounty.status in CLOSED:
                continue
            status, seen = api.call("GET", f"/v1/bounties/{bounty.id}", key=bounty.client.key, expect=(200,))
            if status == 200:
                bounty.status = seen["status"]
            if bounty.status not in CLOSED:
                open_ones += 1
        pending = []
        for client in world.clients:
            pending += api.pages("/v1/submissions", client.key, limit=100)
        print(f"[soak] draining: {open_ones} bounties not closed, {len(pending)} submissions awaiting review",
              flush=True)
        if not open_ones and not pending:
            return
        time.sleep(10)
    record.finding("drain", "bounties or submissions still open after the drain")


def check_everything(api: Api, world: World, record: Record, driver: Driver, settle_seconds: float) -> dict:
    stats = collections.Counter()
    # Payouts settle a few seconds after their decision; give the workers time, then read what each freelancer has.
    until = time.monotonic() + settle_seconds
    while True:
        payouts = {f.id: api.pages("/v1/payouts", f.key, limit=100) for f in world.freelancers}
        unpaid = [p for items in payouts.values() for p in items if p["status"] != "paid"]
        if not unpaid or time.monotonic() > until:
            break
        print(f"[soak] {len(unpaid)} payouts not paid yet ({collections.Counter(p['status'] for p in unpaid)})",
              flush=True)
        time.sleep(10)
    by_submission = collections.defaultdict(list)
    for freelancer in world.freelancers:
        for payout in payouts[freelancer.id]:
            by_submission[payout["submission_id"]].append(payout)
            stats[f"payouts_{payout['status']}"] += 1
            if payout["status"] != "paid":
                record.finding("payouts", f"a payout left {payout['status']} for an onboarded freelancer",
                               payout=payout["id"], freelancer=freelancer.id)
            elif not (payout["transfer_id"] or "").startswith("tr_"):
                record.finding("payouts", "a paid payout without its transfer id", payout=payout["id"])
        me = api.call("GET", "/v1/accounts/me", key=freelancer.key, expect=(200,))[1]
        paid = [p for p in payouts[freelancer.id] if p["status"] == "paid"]
        if len(paid) != len(payouts[freelancer.id]):
            continue  # still being paid (reported above): their totals move meanwhile
        earned = sum(p["amount"]["amount"] for p in paid)
        shown = sum(m["amount"] for m in me["earned"] or [])
        if shown != earned:
            record.finding("accounts", "earned is not the sum of the paid payouts", freelancer=freelancer.id,
                           shown=me["earned"], paid=earned)
        if me["completed"] != len(paid):
            record.finding("accounts", "completed is not the number of paid payouts", freelancer=freelancer.id,
                           completed=me["completed"], paid=len(paid))
        given = world.ratings.get(freelancer.id, [])
        rating = me["rating"] or {"mean": None, "count": 0}
        if rating["count"] != len(given) or (given and abs(rating["mean"] - sum(given) / len(given)) > 0.01):
            record.finding("accounts", "rating is not the ratings given", freelancer=freelancer.id, shown=rating,
                           given=given)
        if not me["payouts_enabled"]:
            record.finding("accounts", "an onboarded freelancer without payouts_enabled", freelancer=freelancer.id)
    transfers_by_payout = collections.defaultdict(list)
    for bounty in list(world.bounties.values()):
        stats["bounties"] += 1
        owner = bounty.client.key
        seen = api.call("GET", f"/v1/bounties/{bounty.id}", key=owner, expect=(200,))[1]
        ledger = api.call("GET", f"/v1/bounties/{bounty.id}/ledger", key=owner, expect=(200,))[1]
        submissions = api.pages(f"/v1/bounties/{bounty.id}/submissions", owner, limit=100)
        if not seen or not ledger:
            continue
        stats[f"bounty_{seen['status']}"] += 1
        totals = ledger["totals"]
        driver.check_totals(bounty, totals)
        counts = collections.Counter(s["status"] for s in submissions)
        stats["submissions"] += len(submissions)
        stats["approved"] += counts["approved"]
        stats["auto_approved"] += sum(1 for s in submissions if s["auto_approved"])
        if seen["status"] not in CLOSED | {"funding_failed"}:
            record.finding("lifecycle", f"a bounty still {seen['status']} long after its deadline", bounty=bounty.id)
        if counts["pending_review"]:
            record.finding("lifecycle", "a submission still pending after its review window", bounty=bounty.id)
        if counts["approved"] > bounty.slots:
            record.finding("slots", "more approved submissions than slots", bounty=bounty.id, slots=bounty.slots,
                           approved=counts["approved"])
        if seen["status"] == "completed" and counts["approved"] != bounty.slots:
            record.finding("slots", "completed without every slot approved", bounty=bounty.id)
        if seen["status"] in CLOSED and seen["slots_left"] not in (0,):
            stats["closed_with_slots_left"] += 1
        approved = [s for s in submissions if s["status"] == "approved"]
        for submission in approved:
            mine = by_submission.get(submission["id"], [])
            if len(mine) != 1 or mine[0]["id"] != submission["payout_id"]:
                record.finding("payouts", "an approved submission without exactly one payout (its own)",
                               submission=submission["id"], payouts=[p["id"] for p in mine])
        for sid, work in list(world.approved.items()):
            if work.bounty is bounty and sid not in {s["id"] for s in approved}:
                record.finding("lifecycle", "a submission answered approved is no longer approved", submission=sid)
        paid_rewards = bounty.reward * sum(1 for s in approved if by_submission.get(s["id"]) and
                                           by_submission[s["id"]][0]["status"] == "paid")
        if totals["paid_out"] != paid_rewards:
            record.finding("ledger", "paid_out is not the rewards of the paid payouts", bounty=bounty.id,
                           totals=totals, paid=paid_rewards)
        if seen["status"] in CLOSED and totals["held"] != 0:
            record.finding("ledger", f"held is not 0 on a settled {seen['status']} bounty", bounty=bounty.id,
                           totals=totals)
        if totals["funded"] == 0 and (totals["paid_out"] or totals["refunded"]):
            record.finding("ledger", "money moved on a bounty never funded", bounty=bounty.id, totals=totals)
        try:
            transfers = driver.stripe.v1.transfers.list({"transfer_group": bounty.id, "limit": 100})
            for transfer in transfers.auto_paging_iter():
                transfers_by_payout[transfer.to_dict()["metadata"].get("payout_id")].append(transfer)
        except Exception as error:  # noqa: BLE001
            record.finding("stripe", f"listing transfers: {type(error).__name__}", error=str(error)[:300])
    for items in by_submission.values():
        for payout in items:
            transfers = transfers_by_payout.get(payout["id"], [])
            if payout["status"] == "paid" and (len(transfers) != 1 or transfers[0]["id"] != payout["transfer_id"] or
                                               transfers[0]["amount"] != payout["amount"]["amount"]):
                record.finding("stripe", "a paid payout without exactly one matching transfer on Stripe",
                               payout=payout["id"], transfers=[t["id"] for t in transfers])
    stats["transfers"] = sum(len(v) for v in transfers_by_payout.values())
    return dict(stats)


def operator_checks(record: Record, state_dir: Path) -> None:
    env = json.loads((state_dir / "env.json").read_text())
    result = subprocess.run([sys.executable, "-m", "ops", "--local", "reconcile", "--all"], cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    print(f"[soak] reconcile --all: exit {result.returncode}; {result.stdout.strip()[-800:]}", flush=True)
    if result.returncode != 0:
        record.finding("reconcile", "ops reconcile --all found differences", output=result.stdout[-2000:],
                       errors=result.stderr[-1000:])
    failed = subprocess.run([sys.executable, "-m", "ops", "--local", "failed-payouts"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    lines = [line for line in failed.stdout.splitlines() if line.startswith("pay_")]
    if lines:
        record.finding("payouts", "failed payouts listed by ops failed-payouts", lines=lines[:5])
    import boto3

    sqs = boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"])
        print(f"[soak] queue {url.rsplit('/', 1)[1]}: {waiting} messages", flush=True)
        if url.endswith("-dlq") and waiting:
            record.finding("dlq", f"{waiting} messages in {url.rsplit('/', 1)[1]}")


def scan_log(record: Record, log: Path | None, offset: int) -> None:
    """Every traceback (named by its last line, the exception) and every ERROR line of a log, from `offset` on."""
    if log is None or not log.exists():
        return
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = number + 1
            while end < len(lines) and (lines[end].startswith((" ", "During handling", "The above", "Traceback"))
                                        or not lines[end].strip()):
                end += 1
            error = lines[end] if end < len(lines) else "?"
            where = next((text.strip() for text in reversed(lines[number:end]) if text.strip().startswith("File")),
                         "")
            record.finding("log", f"{log.name}: traceback {_shape(error)[:120]} at {_shape(where)[:160]}",
                           traceback="\n".join(lines[max(0, number - 3):end + 1])[-3000:])
        elif '"level":"ERROR"' in line or '"level":"CRITICAL"' in line:
            try:
                message = json.loads(line).get("message", line)
            except ValueError:
                message = line
            record.finding("log", f"{log.name}: ERROR {_shape(str(message))[:200]}", line=line[:1500])


def _shape(text: str) -> str:
    return re.sub(r"(bty|sub|pay|clm|acct|msg|pi|tr|evt|acct)_[A-Za-z0-9-]+", "<id>", text)


# -- memory --

def stack_processes(port: int) -> dict[int, str]:
    """The process serving `port` under this checkout, and its parent stack's whole tree."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                procs[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd, os.readlink(entry / "cwd"))
            except (OSError, IndexError, ValueError):
                continue
    roots = [pid for pid, (_, cmd, cwd) in procs.items()
             if "devtools.stack" in cmd and cwd == str(ROOT)]
    tree, frontier = {}, list(roots)
    while frontier:
        pid = frontier.pop()
        tree[pid] = procs[pid][1][:120]
        frontier += [child for child, (parent, _, _) in procs.items() if parent == pid]
    return tree


def memory(port: int) -> dict[str, int]:
    sizes = {}
    for pid, cmd in stack_processes(port).items():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    name = next((part for part in ("local_api", "runner", "moto_server", "localstripe", "stack",
                                                   "provision", "local_state") if part in cmd), cmd[:40])
                    sizes[f"{name}:{pid}"] = int(line.split()[1]) // 1024
        except OSError:
            continue
    return sizes


# -- the run --

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the stack's API, e.g. http://127.0.0.1:8731")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the traffic runs")
    parser.add_argument("--threads", type=int, default=12)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--freelancers", type=int, default=12)
    parser.add_argument("--drain-seconds", type=float, default=300, help="longest wait for timers after the traffic")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local", help="the stack's state (env.json)")
    parser.add_argument("--log", type=Path, default=None, help="the stack's output, scanned for tracebacks")
    parser.add_argument("--report", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    random.seed(args.seed)
    record, world = Record(), World()
    port = int(args.url.rsplit(":", 1)[1].strip("/"))
    document = requests.get(args.url + "/v1/openapi.json", timeout=30).json()
    api = Api(args.url.rstrip("/"), Contract(document), record)
    env = json.loads((args.state_dir / "env.json").read_text())
    driver = Driver(api, record, world, env["STRIPE_API_BASE"])
    log_offset = args.log.stat().st_size if args.log and args.log.exists() else 0
    record.memory.append({"at": "start", **memory(port)})
    print(f"[soak] memory at start (MiB): {record.memory[-1]}", flush=True)

    world.clients = [driver.account("client") for _ in range(args.clients)]
    world.freelancers = [driver.account("freelancer") for _ in range(args.freelancers)]
    for freelancer in world.freelancers[: args.freelancers // 2]:
        driver.onboard(freelancer)

    started = time.monotonic()
    end = started + args.minutes * 60
    stop = threading.Event()

    def work() -> None:
        while time.monotonic() < end and not stop.is_set():
            try:
                driver.step()
            except Exception as error:  # noqa: BLE001 - the driver's own slip is reported, never the end of a run
                record.finding("driver", f"{type(error).__name__}: {str(error)[:120]}")
                time.sleep(0.5)
        api.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(min(30, max(2, end - time.monotonic() + 1)))
        elapsed = time.monotonic() - started
        with record.lock:
            answered = sum(record.responses.values())
        record.memory.append({"at": round(elapsed), **memory(port)})
        print(f"[soak] {elapsed:5.0f} s: {answered} responses, {len(world.bounties)} bounties, "
              f"{len(world.submissions)} submissions, {len(record.findings)} findings; RSS "
              f"{sum(v for k, v in record.memory[-1].items() if k != 'at')} MiB", flush=True)
    traffic_seconds = time.monotonic() - started

    print("[soak] traffic over; every freelancer onboards, then the timers drain", flush=True)
    for freelancer in world.freelancers:
        if not freelancer.onboarded:
            driver.onboard(freelancer)
    drain(api, world, record, args.drain_seconds)
    stats = check_everything(api, world, record, driver, settle_seconds=120)
    operator_checks(record, args.state_dir)
    scan_log(record, args.log, log_offset)
    for name in ("api.log", "runner.log", "moto.log", "localstripe.log"):
        scan_log(record, args.state_dir / name, 0)
    record.memory.append({"at": "end", **memory(port)})
    print(f"[soak] memory at end (MiB): {record.memory[-1]}", flush=True)

    latencies = sorted(record.latencies)
    report = {
        "traffic_seconds": round(traffic_seconds), "threads": args.threads, "responses": sum(record.responses.values()),
        "by_status": dict(collections.Counter(status for (_, _, status) in record.responses.elements())),
        "actions": dict(record.actions), "checked": stats,
        "latency_p50_p99_max": [latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)],
                                latencies[-1]] if latencies else None,
        "memory_mib": [record.memory[0], record.memory[-1]],
        "findings": [vars(f) for f in record.findings.values()],
    }
    text = json.dumps(report, indent=2, default=str)
    if args.report:
        args.report.write_text(text)
    print(text if len(text) < 20000 else text[:20000], flush=True)
    return 1 if record.findings else 0


if __name__ == "__main__":
    sys.exit(main())
