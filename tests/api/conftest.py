"""API tests: the Chalice app through its test client, DynamoDB and SQS on moto, Stripe on localstripe."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client
from devtools.provision import provision


@pytest.fixture(scope="session")
def stack(moto_server, localstripe_server):
    """Tables and queues exist once per run; tests stay apart by creating their own accounts."""
    provision()
    return moto_server, localstripe_server


@pytest.fixture(scope="session")
def chalice_app(stack):
    from app import app

    return app


class Api:
    """A tiny client speaking the contract: JSON bodies, bearer keys, decoded responses."""

    def __init__(self, client: Client):
        self.client = client

    def call(self, method: str, path: str, body=None, key: str | None = None, headers: dict | None = None,
             raw: bytes | str | None = None):
        all_headers = {"Content-Type": "application/json"}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
        data = json.loads(response.body) if response.body else None
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


@pytest.fixture
def api(chalice_app):
    with Client(chalice_app) as client:
        yield Api(client)


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
