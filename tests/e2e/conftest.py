"""The whole local stack, as `make run` starts it, driven over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devtools.servers import free_port
from devtools.stack import LocalStack

TIMED_WORK = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def local_stack(request, tmp_path_factory):
    state = tmp_path_factory.mktemp("local-stack")
    with LocalStack(port=free_port(), state_dir=state, quiet=True, schedule_seconds=1) as stack:
        # A test of timers in real time waits out their shortest window, a minute: its work is posted as soon as the
        # stack is up, so that minute passes while the other tests run rather than in a wait of its own.
        if any("timed_work" in item.fixturenames for item in request.session.items):
            request.config.stash[TIMED_WORK] = post_timed_work(Http(stack.url))
        yield stack


class Http:
    """A client of the public API over HTTP, as any user's code would be."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def call(self, method: str, path: str, body=None, key: str | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, body=None, status: int = 200, **kw):
        code, data = self.call(method, path, body, **kw)
        assert code == status, (method, path, code, data)
        return data

    def account(self, role: str, name: str | None = None) -> dict:
        name = name or f"{role}-{uuid.uuid4().hex[:8]}"
        return self.ok("POST", "/v1/accounts", {"role": role, "name": name,
                                                "email": f"{uuid.uuid4().hex[:10]}@example.com"}, status=201)

    def bounty(self, client_key: str, **fields) -> dict:
        """A funded, open bounty (paid at once with a test card)."""
        body = {
            "title": "Label 20 images", "description": "Draw boxes around cats.",
            "reward": {"amount": 500, "currency": "usd"},
            "deadline": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "payment_method": "pm_card_visa", **fields,
        }
        bounty = self.ok("POST", "/v1/bounties", body, status=201, key=client_key)
        assert bounty["status"] == "open", bounty
        return bounty


@pytest.fixture
def http(local_stack):
    return Http(local_stack.url)


def post_timed_work(http: Http) -> dict:
    """Work whose timers have the shortest windows the API allows (60 s), for tests/e2e/test_timers_live.py: a
    bounty of two slots due in 62 s, a claim that lapses after 60 s, and a submission approved if its client is still
    silent after 60 s; the freelancer has onboarded, so the approval is paid."""
    client, freelancer = http.account("client"), http.account("freelancer")
    ck, fk = client["api_key"], freelancer["api_key"]
    link = http.ok("POST", "/v1/accounts/me/payout-onboarding", key=fk)["url"]
    urllib.request.urlopen(urllib.request.Request(link, data=b""), timeout=10).close()

    def post(title, **fields):
        body = {"title": title, "description": "timers", "reward": {"amount": 400, "currency": "usd"},
                "deadline": _in_seconds(3600), "payment_method": "pm_card_visa", **fields}
        return http.ok("POST", "/v1/bounties", body, status=201, key=ck)

    expiring = post("Expires", slots=2, deadline=_in_seconds(62))
    lapsing = post("Claim lapses", claim_seconds=60)
    reviewed = post("Client stays silent", review_window_seconds=60)
    http.ok("POST", f"/v1/bounties/{lapsing['id']}/claims", status=201, key=fk)
    assert http.ok("GET", f"/v1/bounties/{lapsing['id']}")["slots_left"] == 0
    submission = http.ok("POST", f"/v1/bounties/{reviewed['id']}/submissions", {"content": "done"}, status=201,
                         key=fk)
    return {"client_key": ck, "freelancer_key": fk, "expiring": expiring["id"], "lapsing": lapsing["id"],
            "submission": submission["id"]}


def _in_seconds(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def timed_work(request, http) -> dict:
    """The work `post_timed_work` posted when the stack started (or now, if the stack was up before this was asked
    for: the run then waits the whole minute)."""
    if TIMED_WORK not in request.config.stash:
        request.config.stash[TIMED_WORK] = post_timed_work(http)
    return request.config.stash[TIMED_WORK]
