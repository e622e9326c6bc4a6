"""API tests: the Chalice app through its test client, DynamoDB and SQS on moto, Stripe on localstripe."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from devtools.provision import provision
from devtools.servers import register_webhook


@pytest.fixture(scope="session")
def stack(moto_server, localstripe_server):
    """Tables and queues exist once per run; tests stay apart by creating their own accounts. The app's SQS
    client gets each function's queue permissions, as the deployed roles grant them (devtools/local_iam.py)."""
    from devtools import local_iam

    with local_iam.running(local_iam.OPERATOR):  # the web tests' package starts this fixture a second time
        provision()
    local_iam.enforce_on_the_apps_clients()
    return moto_server, localstripe_server


@pytest.fixture(scope="session")
def chalice_app(stack):
    from app import app

    return app


class Api:
    """A tiny client speaking the contract: JSON bodies, bearer keys, decoded responses."""

    def __init__(self, client: Client):
        self.client = client
        self.bounties: list[str] = []  # created through this client: checked against Stripe after the test

    def call(self, method: str, path: str, body=None, key: str | None = None, headers: dict | None = None,
             raw: bytes | str | None = None):
        all_headers = {"Content-Type": "application/json"}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
        data = json.loads(response.body) if response.body else None
        if method == "POST" and path == "/v1/bounties" and response.status_code == 201:
            self.bounties.append(data["id"])
        return response.status_code, data

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def ok(self, method, path, body=None, status=200, **kw):
        code, data = self.call(method, path, body, **kw)
        assert code == status, (code, data)
        return data

    # -- fixtures of the lifecycle --

    def account(self, role: str) -> dict:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        return self.ok("POST", "/v1/accounts", {"role": role, "name": name, "email": f"{name}@example.com"},
                       status=201)

    def bounty(self, client_key: str, **fields) -> dict:
        body = {
            "title": "Label 20 images", "description": "Draw boxes around cats.",
            "reward": {"amount": 500, "currency": "usd"},
            "deadline": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "payment_method": "pm_card_visa",
        }
        body.update(fields)
        return self.ok("POST", "/v1/bounties", body, status=201, key=client_key)

    def onboard(self, freelancer: dict) -> str:
        """Completes hosted onboarding the way a person would: the link's page, then its button. Stripe then
        reports the account ready through the webhook (the `webhook_relay` fixture must be active)."""
        import urllib.request

        link = self.ok("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])["url"]
        page = urllib.request.urlopen(link, timeout=10).read().decode()
        assert "Complete onboarding" in page
        urllib.request.urlopen(urllib.request.Request(link.replace("return_url=", "no_return="), data=b""),
                               timeout=10).close()
        return link


@pytest.fixture
def api(chalice_app):
    """The API, and after the test the money check: every bounty the test created has a ledger that balances and
    matches Stripe's own charges, transfers and refunds."""
    from chalicelib.bootstrap import deps
    from chalicelib.services.reconcile import reconcile_bounty

    with Client(chalice_app, stage_name="local") as client:
        api = Api(client)
        yield api
    problems = [problem for bounty_id in api.bounties for problem in reconcile_bounty(deps(), bounty_id)]
    assert not problems, problems


@pytest.fixture
def client_acct(api):
    return api.account("client")


@pytest.fixture
def freelancer(api):
    return api.account("freelancer")


@pytest.fixture
def open_bounty(api, client_acct):
    bounty = api.bounty(client_acct["api_key"])
    assert bounty["status"] == "open", bounty
    return bounty


class Workers:
    """Feeds the real SQS queues (on moto) to the app's SQS handlers as Lambda would (the local stack's runner),
    and fires the timer sweep, until nothing is left to do."""

    def __init__(self, app):
        from chalicelib import config
        from devtools.runner import LocalRunner

        self.runner = LocalRunner(app)
        self.payouts_queue = config.payouts_queue_name()
        self.refunds_queue = config.refunds_queue_name()
        self.timers_queue = config.timers_queue_name()

    def run_once(self) -> int:
        return self.runner.feed_all()

    def drain(self, rounds: int = 20) -> None:
        self.runner.drain(rounds)

    def sweep(self) -> None:
        self.runner.fire_schedules()

    def deliver_again(self, queue: str, body: dict) -> None:
        """A message as SQS may deliver it again (a duplicate, or one a test makes up), put on the queue by the
        event source's own client: no function of ours sends it, so no function's queue permissions apply."""
        import json

        self.runner.sqs.send_message(QueueUrl=self.runner._url(queue), MessageBody=json.dumps(body, sort_keys=True))

    def wait_for(self, condition, timeout: float = 15.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.2)

    # -- what Stripe itself says --

    def transfers_for(self, bounty_id: str) -> list:
        import stripe

        return self._stripe().Transfer.list(transfer_group=bounty_id, limit=100)["data"] if stripe else []

    def refunded_on_stripe(self, bounty: dict) -> int:
        intent = self._stripe().PaymentIntent.retrieve(bounty["funding"]["payment_intent_id"])
        refunds = self._stripe().Refund.list(payment_intent=intent["id"], limit=100)["data"]
        return sum(r["amount"] for r in refunds if r["status"] in ("succeeded", "pending"))

    @staticmethod
    def _stripe():
        import os

        import stripe

        stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
        stripe.api_base = os.environ["STRIPE_API_BASE"]
        return stripe


@pytest.fixture
def workers(chalice_app, api, webhook_relay):
    return Workers(chalice_app)


@pytest.fixture
def payable_freelancer(api, workers, freelancer):
    """A freelancer whose Stripe account can receive transfers."""
    api.onboard(freelancer)
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])
    return freelancer


@pytest.fixture
def stripe_server_errors(localstripe_server):
    """Has the Stripe stand-in answer chosen requests with a 500 and keep that answer under the request's
    idempotency key, as Stripe does (the fault proxy's errors never reach Stripe, so nothing is kept)."""
    import urllib.parse
    import urllib.request

    url = f"{localstripe_server.url}/_config/server_errors"

    def inject(path: str, *, times: int = 1, after: bool = False) -> None:
        form = urllib.parse.urlencode({"path": path, "times": times, "after": str(after).lower()}).encode()
        urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=10).close()

    yield inject
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).close()


@pytest.fixture
def webhooks_a_second_late(localstripe_server):
    """Webhooks a second after their event, as localstripe sends them on its own, for a test whose next request must
    come before the webhook does (the session's are sent a tenth of a second after)."""
    from tests.conftest import WEBHOOK_DELAY_SECONDS, set_webhook_delay

    set_webhook_delay(localstripe_server.url, 1.0)
    yield
    set_webhook_delay(localstripe_server.url, WEBHOOK_DELAY_SECONDS)


@pytest.fixture(scope="session")
def webhook_relay(chalice_app, localstripe_server):
    """localstripe delivers signed webhooks over HTTP; this receiver hands them, byte for byte, to the app
    (served in-process by Chalice's test client), as API Gateway would."""
    import os
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()
    seen: list[int] = []

    class Relay(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {"Content-Type": "application/json",
                       "Stripe-Signature": self.headers.get("Stripe-Signature", "")}
            with lock, Client(chalice_app, stage_name="local") as client:
                response = client.http.post("/v1/webhooks/stripe", headers=headers, body=raw)
            seen.append(response.status_code)
            self.send_response(response.status_code)
            self.end_headers()
            self.wfile.write(response.body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    register_webhook(localstripe_server.url, "relay", url, os.environ["STRIPE_WEBHOOK_SECRET"])
    yield seen
    server.shutdown()


class ControlledClock:
    """Stands in for the system clock so a test can move time forward (deadlines, lapses, auto-approval)."""

    def __init__(self, start: datetime):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


@pytest.fixture
def clock(chalice_app):
    """The app's clock, under the test's control for the duration of the test."""
    from chalicelib.bootstrap import deps

    original = deps().clock
    controlled = ControlledClock(datetime.now(UTC).replace(microsecond=0))
    deps().clock = controlled
    yield controlled
    deps().clock = original


@pytest.fixture(scope="session")
def db(moto_server):
    """A plain DynamoDB client on the dev moto server, for the tests of its corrections (test_stand_in_*)."""
    from tests.api.stand_in import dynamodb

    return dynamodb(moto_server.url)
