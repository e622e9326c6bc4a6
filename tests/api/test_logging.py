"""Logs carry ids to follow a request or a payout, and never a secret: no API key, Stripe key or client secret,
webhook secret or card data (the whole lifecycle runs while every log record is captured)."""

from __future__ import annotations

import io
import logging
import os

import pytest

from chalicelib import observability


@pytest.fixture
def json_logs():
    """Every log line as the deployed functions would write it (Powertools' JSON, with the bound ids)."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(observability._formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_logs_carry_ids_and_no_secrets(api, workers, json_logs, client_acct, payable_freelancer):
    bounty = api.bounty(client_acct["api_key"], payment_method="pm_card_visa")
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=payable_freelancer["api_key"])
    approved = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {"rating": 4}, key=client_acct["api_key"])
    api.post("/v1/bounties", {"title": "x", "description": "y", "reward": {"amount": 5, "currency": "usd"}},
             key=client_acct["api_key"])  # refused input is logged too
    api.get("/v1/accounts/me", key="bk_not_a_real_key_but_secret_looking")
    workers.drain()

    text = json_logs.getvalue()
    forbidden = [client_acct["api_key"], payable_freelancer["api_key"], "bk_not_a_real_key_but_secret_looking",
                 os.environ["STRIPE_SECRET_KEY"], os.environ["STRIPE_WEBHOOK_SECRET"],
                 bounty["funding"]["client_secret"], "4242424242424242", "4000000000000341"]
    leaked = [secret for secret in forbidden if secret in text]
    assert not leaked, leaked
    assert bounty["id"] in text and approved["payout_id"] in text  # what an operator follows a case by
