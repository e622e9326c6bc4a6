"""Stopping and starting `make run` keeps accounts, bounties, queued work and Stripe's state."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from devtools.servers import free_port
from devtools.stack import LocalStack
from tests.e2e.conftest import Http

pytestmark = pytest.mark.e2e


def test_state_survives_a_restart(tmp_path):
    port = free_port()
    deadline = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with LocalStack(port=port, state_dir=tmp_path, quiet=True) as stack:
        http = Http(stack.url)
        client = http.account("client")
        bounty = http.ok("POST", "/v1/bounties", {
            "title": "Survives", "description": "a restart", "reward": {"amount": 700, "currency": "usd"},
            "deadline": deadline, "payment_method": "pm_card_visa"}, status=201, key=client["api_key"])
    assert (tmp_path / "aws-state.json").exists() and (tmp_path / "stripe.pickle").exists()

    with LocalStack(port=port, state_dir=tmp_path, quiet=True) as stack:
        http = Http(stack.url)
        again = http.ok("GET", f"/v1/bounties/{bounty['id']}", key=client["api_key"])
        assert again["status"] == "open" and again["funding"] == bounty["funding"]
        assert http.ok("GET", "/v1/accounts/me", key=client["api_key"])["id"] == client["id"]
        stripe_client = stripe.StripeClient("sk_test_local", base_addresses={"api": stack.env["STRIPE_API_BASE"]})
        intent = stripe_client.v1.payment_intents.retrieve(bounty["funding"]["payment_intent_id"])
        assert intent["status"] == "succeeded" and intent["amount"] == 770
        ledger = http.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=client["api_key"])
        assert ledger["totals"]["funded"] == 770


def test_reset_starts_from_nothing(tmp_path):
    with LocalStack(port=free_port(), state_dir=tmp_path, quiet=True) as stack:
        key = Http(stack.url).account("client")["api_key"]
    for leftover in tmp_path.iterdir():
        if leftover.suffix in (".json", ".pickle"):
            leftover.unlink()  # what `make reset` does to .local/
    with LocalStack(port=free_port(), state_dir=tmp_path, quiet=True) as stack:
        assert Http(stack.url).call("GET", "/v1/accounts/me", key=key)[0] == 401


def test_a_crash_loses_at_most_the_last_checkpoint(tmp_path):
    """kill -9 of everything (no graceful stop, so no final save): the tables come back from the last checkpoint."""
    port = free_port()
    stack = LocalStack(port=port, state_dir=tmp_path, quiet=True, checkpoint_seconds=0.5).__enter__()
    try:
        client = Http(stack.url).account("client")
        saved = tmp_path / "aws-state.json"
        for _ in range(200):  # the next checkpoint after the sign-up
            if saved.exists() and client["id"] in saved.read_text():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no checkpoint holds the new account")
    finally:
        stack._stopping.set()
        for process in [*stack.processes, *(server.process for server in stack.servers)]:
            process.kill()
            process.wait()
        stack.processes.clear()
        stack.servers.clear()
    with LocalStack(port=port, state_dir=tmp_path, quiet=True) as stack:
        assert Http(stack.url).ok("GET", "/v1/accounts/me", key=client["api_key"])["id"] == client["id"]
