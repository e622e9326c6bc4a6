"""Round trips: DynamoDB and SQS calls of every API request and every worker message, counted on the app's clients.

Each request goes through Chalice's test client as API Gateway would hand it to the Lambda; each message through the
local runner, one batch at a time, as the SQS event source would. Setup calls are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from .meter import Tally
from .stack import ControlledClock, Stack, Visitor

REQUEST_TARGET = 2
MESSAGE_TARGET = 4


@dataclass
class Row:
    kind: str  # "request" (the API), "web" (the web form), "message" or "schedule"
    name: str
    status: str
    tally: Tally
    seconds: float
    per: int = 1  # messages in the batch the tally covers
    note: str = ""

    @property
    def dynamodb(self) -> float:
        return self.tally.dynamodb / self.per

    @property
    def sqs(self) -> float:
        return self.tally.sqs / self.per

    @property
    def target(self) -> int:
        return MESSAGE_TARGET if self.kind == "message" else REQUEST_TARGET

    @property
    def met(self) -> bool:
        if self.kind == "schedule":  # not a message: its calls follow the number of timer shards and due timers
            return self.tally.scans == 0
        return self.dynamodb <= self.target and self.tally.scans == 0


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)

    def of(self, kind: str) -> list[Row]:
        return [r for r in self.rows if r.kind == kind]

    @property
    def scans(self) -> int:
        return sum(r.tally.scans for r in self.rows)

    def find(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


class _Recorder:
    def __init__(self, stack: Stack, result: Result):
        self.stack = stack
        self.result = result

    def request(self, name: str, method: str, path: str, body=None, status: int = 200, note: str = "", **kw):
        response = self.stack.call(method, path, body, **kw)
        if response.status != status:
            raise AssertionError(f"{name}: {response.status} {response.body}")
        self.result.rows.append(Row("request", name, str(response.status), response.tally, response.seconds,
                                    note=note))
        return response.body

    def web(self, name: str, method: str, path: str, visitor, form: dict | None = None, status: int = 200,
            note: str = "") -> str | None:
        """A web form request; returns where it redirects to, if it does."""
        response = self.stack.web(method, path, visitor, form)
        if response.status != status:
            raise AssertionError(f"{name}: {response.status}")
        self.result.rows.append(Row("web", name, str(response.status), response.tally, response.seconds,
                                    note=note))
        return response.body["location"]

    def message(self, name: str, queue: str, note: str = "", expect: int | None = None) -> int:
        delivered, tally, seconds = self.stack.deliver(queue)
        if not delivered or (expect is not None and delivered != expect):
            raise AssertionError(f"{name}: {delivered} messages on {queue}")
        self.result.rows.append(Row("message", name, f"{delivered} msg", tally, seconds, per=delivered, note=note))
        return delivered

    def schedule(self, name: str, note: str = "") -> None:
        tally, seconds = self.stack.schedule()
        self.result.rows.append(Row("schedule", name, "ok", tally, seconds, note=note))


def run(stack: Stack) -> Result:
    from chalicelib import config

    result = Result()
    rec = _Recorder(stack, result)
    payouts, refunds, timers = config.payouts_queue_name(), config.refunds_queue_name(), config.timers_queue_name()
    stack.drain()
    original_clock = stack.deps.clock
    clock = ControlledClock(original_clock.now().replace(microsecond=0))
    stack.deps.clock = clock
    try:
        _requests(stack, rec)
        _web(stack, rec)
        _workers(stack, rec, clock, payouts, refunds, timers)
    finally:
        stack.deps.clock = original_clock
        stack.drain()
    return result


def _requests(stack: Stack, rec: _Recorder) -> None:
    name = "bench-person"
    client = rec.request("create account", "POST", "/v1/accounts",
                         {"role": "client", "name": name, "email": "c@example.com"}, status=201)
    ckey = client["api_key"]
    rec.request("read own account", "GET", "/v1/accounts/me", key=ckey)
    rec.request("list API keys", "GET", "/v1/accounts/me/keys", key=ckey)
    new_key = rec.request("add API key", "POST", "/v1/accounts/me/keys", key=ckey, status=201)
    rec.request("revoke API key", "DELETE", f"/v1/accounts/me/keys/{new_key['id']}", key=ckey)

    freelancer = stack.payable_freelancer()
    fkey = freelancer["api_key"]
    other = stack.account("freelancer")
    okey = other["api_key"]
    rec.request("start payout onboarding (first call)", "POST", "/v1/accounts/me/payout-onboarding", key=okey,
                note="creates the Stripe account")

    bounty = rec.request("post bounty, paid at once", "POST", "/v1/bounties", stack.bounty_body(slots=3),
                         status=201, key=ckey)
    bid = bounty["id"]
    unfunded = rec.request("post bounty, unpaid", "POST", "/v1/bounties",
                           stack.bounty_body(payment_method=None), status=201, key=ckey)
    rec.request("fund bounty", "POST", f"/v1/bounties/{unfunded['id']}/fund", {"payment_method": "pm_card_visa"},
                key=ckey)
    waiting = stack.ok("POST", "/v1/bounties", stack.bounty_body(payment_method=None), status=201, key=ckey)
    # Paid on the stand-in first, as the client's browser would, so the bounty's later refund finds a payment.
    paid = _pay(stack, waiting["funding"]["payment_intent_id"])
    response = stack.webhook("payment_intent.succeeded", {
        "id": paid["id"], "object": "payment_intent", "status": paid["status"], "latest_charge": paid["latest_charge"],
        "metadata": {"bounty_id": waiting["id"]}})
    result = rec.result
    result.rows.append(Row("request", "Stripe webhook: payment succeeded", str(response.status), response.tally,
                           response.seconds))

    rec.request("list open bounties", "GET", "/v1/bounties")
    rec.request("list open bounties by tag", "GET", "/v1/bounties?tag=images&min_reward=100")
    rec.request("search open bounties by words (an extension)", "GET", "/v1/bounties?q=label%20images")
    rec.request("list own bounties", "GET", "/v1/bounties?mine=true", key=ckey)
    rec.request("read bounty", "GET", f"/v1/bounties/{bid}")

    claim = rec.request("claim", "POST", f"/v1/bounties/{bid}/claims", key=fkey, status=201)
    rec.request("claim, with Idempotency-Key", "POST", f"/v1/bounties/{unfunded['id']}/claims", key=fkey,
                status=201, headers={"Idempotency-Key": "bench-claim-1"},
                note="the key's record read and written with the claim's own calls")
    rec.request("list own claims", "GET", "/v1/claims", key=fkey)
    other_claim = stack.ok("POST", f"/v1/bounties/{bid}/claims", key=okey, status=201)
    rec.request("release claim", "POST", f"/v1/claims/{other_claim['id']}/release", key=okey)
    assert claim["id"]
    submission = rec.request("submit work", "POST", f"/v1/bounties/{bid}/submissions",
                             {"content": "Done: 20 images labelled.", "links": ["https://example.com/l.zip"]},
                             key=fkey, status=201)
    sid = submission["id"]
    rec.request("list bounty's submissions", "GET", f"/v1/bounties/{bid}/submissions", key=ckey)
    rec.request("list own submissions", "GET", "/v1/submissions", key=fkey)
    rec.request("client's review queue", "GET", "/v1/submissions", key=ckey,
                note="work awaiting the client's decision, from the sparse index of pending submissions")
    rec.request("read submission", "GET", f"/v1/submissions/{sid}", key=ckey)
    rec.request("approve", "POST", f"/v1/submissions/{sid}/approve", {"rating": 5}, key=ckey,
                note="queues the payout")
    rejected = stack.ok("POST", f"/v1/bounties/{bid}/submissions", {"content": "My try."}, key=okey, status=201)
    rec.request("reject", "POST", f"/v1/submissions/{rejected['id']}/reject", {"reason": "Boxes missing."},
                key=ckey)
    rec.request("post message", "POST", f"/v1/bounties/{bid}/messages", {"body": "Thanks!"}, key=ckey,
                status=201)
    rec.request("read messages", "GET", f"/v1/bounties/{bid}/messages", key=fkey)
    rec.request("list own payouts", "GET", "/v1/payouts", key=fkey)
    rec.request("list own unpaid payouts (what is still owed)", "GET", "/v1/payouts?status=unpaid", key=fkey)
    rec.request("read ledger", "GET", f"/v1/bounties/{bid}/ledger", key=ckey)
    rec.request("OpenAPI document", "GET", "/v1/openapi.json")
    rec.web("web: bounty list, signed out", "GET", "/web", Visitor())
    rec.web("web: one bounty, signed out", "GET", f"/web/bounties/{bid}", Visitor())
    stack.bid, stack.ckey, stack.fkey, stack.other = bid, ckey, fkey, other
    stack.cancel_target = stack.ok("POST", "/v1/bounties", stack.bounty_body(slots=2), status=201, key=ckey)["id"]


def _web(stack: Stack, rec: _Recorder) -> None:
    """The freelancer's web form, signed in with a session cookie, each form carrying its CSRF token."""
    freelancer = stack.account("freelancer")
    bounty, other = (stack.ok("POST", "/v1/bounties", stack.bounty_body(slots=2), status=201, key=stack.ckey)["id"]
                     for _ in range(2))
    visitor = Visitor()
    rec.web("web: sign-in page", "GET", "/web/signin", visitor)
    rec.web("web: sign in", "POST", "/web/signin", visitor, {"api_key": freelancer["api_key"], "next": "/web/"},
            status=303)
    rec.web("web: bounty list, signed in", "GET", "/web", visitor)
    rec.web("web: one bounty, signed in", "GET", f"/web/bounties/{bounty}", visitor,
            note="before claiming: the bounty and the freelancer's standing on it")
    rec.web("web: claim", "POST", f"/web/bounties/{bounty}/claim", visitor, {}, status=303)
    submitted = rec.web("web: submit work", "POST", f"/web/bounties/{bounty}/submissions", visitor,
                        {"content": "Done: 20 images labelled.", "links": "https://example.com/l.zip"}, status=303)
    rec.web("web: submission page", "GET", submitted, visitor)
    rec.web("web: post message", "POST", f"/web/bounties/{bounty}/messages", visitor, {"body": "Done, thanks."},
            status=303)
    claim = stack.ok("POST", f"/v1/bounties/{other}/claims", key=freelancer["api_key"], status=201)
    rec.web("web: one bounty, after working on it", "GET", f"/web/bounties/{bounty}", visitor,
            note="the bounty and the freelancer's standing on it (their submissions listed there), the thread")
    rec.web("web: release claim", "POST", f"/web/claims/{claim['id']}/release", visitor, {}, status=303)
    rec.web("web: my work", "GET", "/web/me", visitor,
            note="claims, submissions, payouts, what is owed: the freelancer's list of work, then the account")
    rec.web("web: start payout onboarding", "POST", "/web/onboarding", visitor, {}, status=303,
            note="creates the Stripe account")
    rec.web("web: back from Stripe's onboarding", "GET", "/web/onboarding/complete", visitor)
    rec.web("web: onboarding link expired", "GET", "/web/onboarding/refresh", visitor)
    rec.web("web: sign out", "POST", "/web/signout", visitor, {}, status=303)


def _pay(stack: Stack, intent_id: str) -> dict:
    import stripe

    client = stripe.StripeClient("sk_test_bench", base_addresses={"api": stack.stripe.url})
    intent = client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    charge = intent.latest_charge
    return {"id": intent.id, "status": intent.status, "latest_charge": getattr(charge, "id", charge)}


def _workers(stack: Stack, rec: _Recorder, clock: ControlledClock, payouts: str, refunds: str, timers: str) -> None:
    ckey, fkey, other = stack.ckey, stack.fkey, stack.other
    rec.message("payouts worker: transfer paid", payouts, expect=1)

    rec.request("cancel bounty", "POST", f"/v1/bounties/{stack.cancel_target}/cancel", key=ckey,
                note="queues the refund")
    rec.message("refunds worker: refund", refunds, expect=1)

    # A bounty cancelled while two freelancers hold claims: a timer due at once ends them.
    claimed = stack.ok("POST", "/v1/bounties", stack.bounty_body(slots=2), status=201, key=ckey)["id"]
    for holder in (fkey, other["api_key"]):
        stack.ok("POST", f"/v1/bounties/{claimed}/claims", key=holder, status=201)
    stack.ok("POST", f"/v1/bounties/{claimed}/cancel", key=ckey)
    stack.deliver(refunds)
    stack.schedule()
    rec.message("timers worker: a cancelled bounty's claims end", timers, expect=1, note="2 claims")

    # The other freelancer is paid before onboarding: the payout waits, and Stripe's word releases it.
    timed = stack.ok("POST", "/v1/bounties", stack.bounty_body(), status=201, key=ckey)["id"]
    work = stack.ok("POST", f"/v1/bounties/{timed}/submissions", {"content": "Mine."}, key=other["api_key"],
                    status=201)
    stack.ok("POST", f"/v1/submissions/{work['id']}/approve", {}, key=ckey)
    rec.message("payouts worker: awaiting onboarding", payouts, expect=1)
    urllib_complete(stack, other)
    account = stack.deps.repo.get_account(other["id"])
    response = stack.webhook("account.updated", {"id": account.stripe_account_id, "object": "account",
                                                 "payouts_enabled": True, "metadata": {"account_id": other["id"]}})
    rec.result.rows.append(Row("request", "Stripe webhook: account ready", str(response.status), response.tally,
                               response.seconds, note="re-queues 1 waiting payout"))
    stack.drain()

    # Timers under the controlled clock: a claim lapses, a submission is approved for a silent client, and
    # every bounty expires.
    slot_bounty = stack.ok("POST", "/v1/bounties", stack.bounty_body(claim_seconds=60), status=201,
                           key=ckey)["id"]
    review_bounty = stack.ok("POST", "/v1/bounties", stack.bounty_body(review_window_seconds=120), status=201,
                             key=ckey)["id"]
    stack.ok("POST", f"/v1/bounties/{slot_bounty}/claims", key=fkey, status=201)
    stack.ok("POST", f"/v1/bounties/{review_bounty}/submissions", {"content": "Done."}, key=fkey, status=201)
    clock.current += timedelta(seconds=61)
    rec.schedule("timer sweep (1 due)", note="per run, every minute")
    rec.message("timers worker: claim lapses", timers, expect=1)
    clock.current += timedelta(seconds=60)
    stack.schedule()
    rec.message("timers worker: auto-approval", timers, expect=1, note="queues the payout")
    rec.message("payouts worker: transfer paid (auto-approved)", payouts, expect=1)
    clock.current += timedelta(days=3)
    stack.schedule()
    rec.message("timers worker: bounty expires", timers, note="mean over the batch")
    stack.drain()
    stack.schedule()
    empty = stack.schedule()[0]
    rec.result.rows.append(Row("schedule", "timer sweep (nothing due)", "ok", empty, 0.0))


def urllib_complete(stack: Stack, freelancer: dict) -> None:
    """Completes the (local) hosted onboarding of a freelancer who already has a Stripe account."""
    import urllib.request

    link = stack.ok("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])["url"]
    urllib.request.urlopen(urllib.request.Request(link.replace("return_url=", "no_return="), data=b""),
                           timeout=10).close()


def markdown(result: Result) -> str:
    lines = ["| what | kind | status | DynamoDB calls | SQS calls | DynamoDB operations | items read | target |",
             "|---|---|---|---:|---:|---|---:|---|"]
    for r in result.rows:
        mark = "✅" if r.met else f"❌ {r.dynamodb / r.target:.1f}×"
        target = f"≤ {r.target} {mark}" if r.kind != "schedule" else "1 Query per shard, 0 Scans " + mark[:1]
        per = f" (÷{r.per})" if r.per > 1 else ""
        note = f" — {r.note}" if r.note else ""
        lines.append(f"| {r.name}{note} | {r.kind} | {r.status} | {r.dynamodb:g}{per} | {r.sqs:g} | "
                     f"{r.tally.summary('dynamodb')} | {r.tally.items_read / r.per:g} | {target} |")
    return "\n".join(lines)
