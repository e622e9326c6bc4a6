"""The stack every benchmark runs on: moto and localstripe over HTTP, the app through Chalice's test client
(API requests) and the local runner (queue messages, schedules), the app's AWS clients metered."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .meter import Meter, Tally

STAGE = "bench"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    "STAGE": STAGE, "RETRY_BACKOFF_SECONDS": "0", "LOG_LEVEL": "ERROR",
    "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": "whsec_bench",
    "WEB_SESSION_SECRET": "bench-web-session-secret", "POWERTOOLS_METRICS_DISABLED": "true",
    # moto answers an index Query by walking every item of the table, which at 100,000 items can take minutes; a
    # timed-out write retried would then fail its own version check. So: long reads, no retries.
    "AWS_READ_TIMEOUT_SECONDS": "900", "AWS_MAX_RETRY_ATTEMPTS": "0",
}


@dataclass
class Response:
    status: int
    body: dict | None
    seconds: float
    tally: Tally


@dataclass
class Visitor:
    """A browser on the web form: the cookies it was given, sent back with each request."""
    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def keep(self, set_cookie: list[str] | str | None) -> None:
        for value in [set_cookie] if isinstance(set_cookie, str) else set_cookie or []:
            name, _, rest = value.partition("=")
            content = rest.partition(";")[0]
            if content and "Max-Age=0" not in rest:
                self.cookies[name] = content
            else:
                self.cookies.pop(name, None)

    def csrf(self) -> str:
        """The token the page's forms carry for the current session (the app's own session module makes it)."""
        from chalicelib.web import session

        return session.csrf_token(session.load(self.cookies[session.cookie_name(session.COOKIE)], time.time()))


class Stack:
    """`with Stack() as stack:` starts the stand-ins, provisions the stage and meters the app's clients."""

    def __enter__(self) -> Stack:
        from devtools.servers import start_localstripe, start_moto

        os.environ.update(ENVIRONMENT)
        self.moto = start_moto()
        self.stripe = start_localstripe()
        os.environ["AWS_ENDPOINT_URL"] = self.moto.url
        os.environ["STRIPE_API_BASE"] = self.stripe.url
        try:
            self._wire()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.moto.stop()
        self.stripe.stop()

    def _wire(self) -> None:
        import boto3
        from chalice.test import Client

        from app import app
        from chalicelib.adapters import dynamo, dynamo_models
        from chalicelib.bootstrap import deps
        from devtools.provision import provision
        from devtools.runner import LocalRunner

        provision()
        self.app = app
        self.deps = deps()
        self.client = Client(app, stage_name="local")
        # The runner plays Lambda's event source mapping: its receives and deletes are not the app's calls.
        self.runner = LocalRunner(app, sqs=boto3.session.Session().client("sqs"))
        self.meter = Meter()
        for model in dynamo_models.ALL_MODELS:
            self.meter.attach(model._get_connection().connection.client)
        self.meter.attach(dynamo._connection().client)
        self.meter.attach(self.deps.queue.client)
        self.tables = [model.Meta.table_name for model in dynamo_models.ALL_MODELS]
        self.meter.learn_indexes(boto3.session.Session().client("dynamodb"), self.tables)

    # -- the API --

    def call(self, method: str, path: str, body=None, key: str | None = None, headers: dict | None = None,
             raw: bytes | None = None) -> Response:
        all_headers = {"Content-Type": "application/json"}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        with self.meter.measure() as tally:
            started = time.perf_counter()
            response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
            seconds = time.perf_counter() - started
        try:
            data = json.loads(response.body) if response.body else None
        except ValueError:
            data = None
        return Response(response.status_code, data, seconds, tally)

    def web(self, method: str, path: str, visitor: Visitor, form: dict | None = None) -> Response:
        """A web form request as the browser sends it: its cookies, and a POST's fields with the CSRF token and
        the form's own key (which every form that changes something carries, chalicelib/web/once.py)."""
        from chalicelib.web import once

        headers = {"Cookie": visitor.header()}
        payload = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            payload = urllib.parse.urlencode({**form, "csrf": visitor.csrf(), once.FIELD: once.new_key()})
        with self.meter.measure() as tally:
            started = time.perf_counter()
            response = getattr(self.client.http, method.lower())(path, headers=headers, body=payload)
            seconds = time.perf_counter() - started
        visitor.keep(response.headers.get("Set-Cookie"))
        return Response(response.status_code, {"location": response.headers.get("Location")}, seconds, tally)

    def ok(self, method: str, path: str, body=None, status: int = 200, **kw) -> dict:
        response = self.call(method, path, body, **kw)
        if response.status != status:
            raise AssertionError(f"{method} {path}: {response.status} {response.body}")
        return response.body

    def account(self, role: str) -> dict:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        return self.ok("POST", "/v1/accounts", {"role": role, "name": name, "email": f"{name}@example.com"},
                       status=201)

    @staticmethod
    def bounty_body(**fields) -> dict:
        body = {"title": "Label 20 images", "description": "Draw a box around every cat in each image.",
                "reward": {"amount": 500, "currency": "usd"}, "estimated_minutes": 15, "tags": ["images"],
                "deadline": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "payment_method": "pm_card_visa"}
        body.update(fields)
        return body

    def payable_freelancer(self) -> dict:
        """A freelancer onboarded on (local) Stripe, and our record of it told so by a signed webhook."""
        freelancer = self.account("freelancer")
        link = self.ok("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])["url"]
        urllib.request.urlopen(urllib.request.Request(link.replace("return_url=", "no_return="), data=b""),
                               timeout=10).close()
        account = self.deps.repo.get_account(freelancer["id"])
        self.webhook("account.updated", {"id": account.stripe_account_id, "object": "account",
                                         "payouts_enabled": True, "metadata": {"account_id": freelancer["id"]}})
        return freelancer

    def webhook(self, event_type: str, data: dict) -> Response:
        """Posts an event signed as Stripe signs them (HMAC-SHA256 of "<timestamp>.<body>")."""
        payload = json.dumps({"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": event_type,
                              "created": int(time.time()), "data": {"object": data}}).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(ENVIRONMENT["STRIPE_WEBHOOK_SECRET"].encode(), stamp.encode() + b"." + payload,
                          hashlib.sha256).hexdigest()
        return self.call("POST", "/v1/webhooks/stripe", raw=payload,
                         headers={"Stripe-Signature": f"t={stamp},v1={digest}"})

    def stripe_requests(self) -> int:
        """API requests the Stripe stand-in has served so far (its dev plugin counts them)."""
        with urllib.request.urlopen(f"{self.stripe.url}/_config/request_count", timeout=10) as answer:
            return json.load(answer)["count"]

    # -- workers --

    def deliver(self, queue: str) -> tuple[int, Tally, float]:
        """One batch of `queue` handed to its handler, as Lambda's event source would; the handler's calls."""
        with self.meter.measure() as tally:
            started = time.perf_counter()
            delivered = self.runner.feed_once(queue)
            seconds = time.perf_counter() - started
        return delivered, tally, seconds

    def schedule(self, name: str = "sweep_timers") -> tuple[Tally, float]:
        with self.meter.measure() as tally:
            started = time.perf_counter()
            self.runner.invoke(name, self.runner._scheduled_event(name))
            seconds = time.perf_counter() - started
        return tally, seconds

    def drain(self) -> None:
        self.runner.drain()


class ControlledClock:
    """The app's clock port, moved forward by the benchmark (deadlines, lapses, auto-approval)."""

    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current
