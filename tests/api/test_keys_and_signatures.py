"""Secrets: API keys are stored only as a keyed hash and can be rotated, capped and revoked; Stripe webhooks are
accepted only with a fresh signature from our secret (test_accounts.py and test_webhooks.py cover the basics)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

import boto3

from chalicelib.adapters.dynamo_models import ApiKeyModel
from chalicelib.adapters.stripe_payments import WEBHOOK_TOLERANCE_SECONDS
from chalicelib.services.accounts import MAX_KEYS, hash_api_key


def _stored_items(account_id: str) -> list[dict]:
    """The raw DynamoDB items of the account's keys, as anyone reading the table would see them."""
    table = boto3.resource("dynamodb").Table(ApiKeyModel.Meta.table_name)
    return [item for item in table.scan()["Items"] if item.get("account_id") == account_id]


def test_the_key_table_holds_a_keyed_hash_and_never_the_key(api):
    account = api.account("client")
    rotated = api.ok("POST", "/v1/accounts/me/keys", key=account["api_key"], status=201)["api_key"]
    items = _stored_items(account["id"])
    assert len(items) == 2
    dump = json.dumps(items, default=str)
    for raw in (account["api_key"], rotated):
        assert raw not in dump and raw.removeprefix("bk_") not in dump
        # A keyed hash (HMAC with the pepper), not a bare digest anyone could recompute from a guessed key.
        assert hash_api_key(raw) in dump
        assert hashlib.sha256(raw.encode()).hexdigest() not in dump
    assert not any(str(value).startswith("bk_") for item in items for value in item.values()), items


def test_a_key_is_found_only_by_its_exact_hash(api):
    account = api.account("freelancer")
    raw = account["api_key"]
    near_misses = [raw[:-1], raw + "x", raw.upper(), raw[:-1] + ("A" if raw[-1] != "A" else "B"), " " + raw + "x"]
    for wrong in near_misses:
        code, body = api.get("/v1/accounts/me", key=wrong)
        assert code == 401 and body["error"]["code"] == "unauthenticated", wrong
    assert api.ok("GET", "/v1/accounts/me", key=raw)["id"] == account["id"]


def test_rotation_is_capped_and_revoking_the_key_in_use_ends_it(api):
    account = api.account("client")
    first = account["api_key"]
    extra = [api.ok("POST", "/v1/accounts/me/keys", key=first, status=201) for _ in range(MAX_KEYS - 1)]
    code, body = api.post("/v1/accounts/me/keys", {}, key=first)
    assert (code, body["error"]["code"]) == (409, "too_many_keys")
    # Revoking one makes room; a key can revoke itself, and is refused from the next request on.
    last = extra[-1]
    assert api.ok("DELETE", f"/v1/accounts/me/keys/{last['id']}", key=last["api_key"])["revoked"] is True
    code, _ = api.get("/v1/accounts/me", key=last["api_key"])
    assert code == 401
    api.ok("POST", "/v1/accounts/me/keys", key=first, status=201)
    listed = api.ok("GET", "/v1/accounts/me/keys", key=first)["items"]
    assert all(item["api_key"] is None for item in listed)  # the list never shows a secret
    assert sum(item["revoked"] for item in listed) == 1


def _signed(body: str, *, at: int, secret: str | None = None, scheme: str = "v1") -> dict:
    secret = secret or os.environ["STRIPE_WEBHOOK_SECRET"]
    signature = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},{scheme}={signature}"}


def _event() -> str:
    return json.dumps({"id": "evt_tolerance", "object": "event", "type": "payment_intent.payment_failed",
                       "data": {"object": {"id": "pi_x", "object": "payment_intent", "metadata": {}}},
                       "created": int(time.time())})


def test_every_401_names_the_scheme_to_authenticate_with(api, client_acct):
    """HTTP requires a 401 to carry `WWW-Authenticate` with a challenge (RFC 9110 15.5.2): it had none, and clients
    that follow the rule (Java's HttpURLConnection, some proxies) treat such an answer as broken. A key that was
    sent and is not valid also says so (RFC 6750's `invalid_token`); one not sent says only which scheme to use."""
    def challenge(path: str, headers: dict):
        response = api.client.http.get(path, headers=headers)
        assert response.status_code == 401, (path, response.body)
        assert json.loads(response.body)["error"]["code"] == "unauthenticated"
        return response.headers.get("WWW-Authenticate")

    assert challenge("/v1/accounts/me", {}) == 'Bearer realm="bounty-api"'
    assert challenge("/v1/bounties?mine=true", {}) == 'Bearer realm="bounty-api"'
    for header in ("Bearer bk_nope", "Basic dXNlcjpwYXNz", f"Bearer {client_acct['api_key']}x"):
        assert challenge("/v1/accounts/me", {"Authorization": header}) == (
            'Bearer realm="bounty-api", error="invalid_token"'), header
    header = api.ok("GET", "/v1/openapi.json")["paths"]["/v1/accounts/me"]["get"]["responses"]["401"]["headers"]
    assert "WWW-Authenticate" in header
    # Other refusals carry no challenge.
    response = api.client.http.get("/v1/payouts", headers={"Authorization": f"Bearer {client_acct['api_key']}"})
    assert response.status_code == 403 and "WWW-Authenticate" not in response.headers

def test_a_signature_older_than_the_tolerance_is_refused_and_a_recent_one_accepted(api):
    body, now = _event(), int(time.time())
    code, answer = api.call("POST", "/v1/webhooks/stripe", raw=body,
                            headers=_signed(body, at=now - WEBHOOK_TOLERANCE_SECONDS - 10))
    assert (code, answer["error"]["code"]) == (400, "invalid_signature")
    code, answer = api.call("POST", "/v1/webhooks/stripe", raw=body,
                            headers=_signed(body, at=now - WEBHOOK_TOLERANCE_SECONDS + 60))
    assert (code, answer) == (200, {"received": True, "outcome": "ignored"})


def test_only_a_v1_signature_with_our_secret_counts(api):
    body, now = _event(), int(time.time())
    good = _signed(body, at=now)["Stripe-Signature"]
    forged = _signed(body, at=now, secret="whsec_other")["Stripe-Signature"]
    # Stripe sends several v1 signatures while a secret is being rolled: one of them matching is enough.
    both = f"{forged},{good.split(',', 1)[1]}"
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers={"Stripe-Signature": both})[0] == 200
    for header in (_signed(body, at=now, scheme="v0"), {"Stripe-Signature": forged},
                   {"Stripe-Signature": good.replace(f"t={now}", f"t={now + 1}")}, {"Stripe-Signature": ""}):
        code, answer = api.call("POST", "/v1/webhooks/stripe", raw=body, headers=header)
        assert (code, answer["error"]["code"]) == (400, "invalid_signature"), header
