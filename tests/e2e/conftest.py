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


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("local-stack")
    with LocalStack(port=free_port(), state_dir=state, quiet=True, schedule_seconds=1) as stack:
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
