"""`make run`'s stack, end to end over HTTP: post → fund → claim → submit → approve → onboard → paid."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e


def _eventually(check, timeout: float = 20.0):
    """Polls until `check()` returns something truthy; the workers and timers run on their own schedule."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "the stack did not get there in time"
        time.sleep(0.25)


def _deadline(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_whole_lifecycle_over_http(http, local_stack):
    client, freelancer = http.account("client"), http.account("freelancer")
    ck, fk = client["api_key"], freelancer["api_key"]
    assert http.ok("GET", "/v1/openapi.json")["openapi"].startswith("3.")
    for web_root in ("/web/", "/web"):  # the address `make run` prints, and without the slash
        with urllib.request.urlopen(local_stack.url + web_root, timeout=10) as page:
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]

    bounty = http.ok("POST", "/v1/bounties", {
        "title": "Label 20 images", "description": "Boxes around every cat.",
        "reward": {"amount": 500, "currency": "usd"}, "deadline": _deadline(86400), "estimated_minutes": 15,
        "tags": ["images"], "payment_method": "pm_card_visa"}, status=201, key=ck)
    assert bounty["status"] == "open" and bounty["funding"]["amount_total"] == 550
    listed = http.ok("GET", "/v1/bounties?tag=images&limit=100")["items"]
    assert bounty["id"] in [b["id"] for b in listed]

    claim = http.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=fk)
    submission = http.ok("POST", f"/v1/bounties/{bounty['id']}/submissions",
                         {"content": "All done", "links": ["https://example.com/labels.zip"]}, status=201, key=fk)
    assert submission["claim_id"] == claim["id"] and submission["status"] == "pending_review"
    approved = http.ok("POST", f"/v1/submissions/{submission['id']}/approve", {"rating": 5}, key=ck)
    assert approved["status"] == "approved" and approved["payout_id"]

    # The payouts worker (fed by the runner) finds the freelancer not onboarded yet.
    _eventually(lambda: http.ok("GET", "/v1/payouts", key=fk)["items"][0]["status"] == "awaiting_onboarding")

    # Onboarding: the link is a local page; its button completes it and Stripe says account.updated.
    link = http.ok("POST", "/v1/accounts/me/payout-onboarding", key=fk)["url"]
    assert "Complete onboarding" in urllib.request.urlopen(link, timeout=10).read().decode()
    landing = urllib.request.urlopen(urllib.request.Request(link, data=b""), timeout=10)
    assert landing.geturl().startswith(local_stack.url)
    payout = _eventually(lambda: next((p for p in http.ok("GET", "/v1/payouts", key=fk)["items"]
                                       if p["status"] == "paid"), None))
    assert payout["transfer_id"].startswith("tr_") and payout["amount"] == {"amount": 500, "currency": "usd"}
    me = http.ok("GET", "/v1/accounts/me", key=fk)
    assert me["payouts_enabled"] and me["earned"] == [{"amount": 500, "currency": "usd"}]

    ledger = http.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=ck)
    assert ledger["totals"] == {"funded": 550, "paid_out": 500, "fees": 50, "refunded": 0, "held": 0}
    assert http.ok("GET", f"/v1/bounties/{bounty['id']}", key=ck)["status"] == "completed"


def test_webhook_funds_a_bounty_paid_later(http, local_stack):
    """Without a payment method the bounty waits; the client pays Stripe directly (as Stripe.js would with the
    client secret), and only Stripe's signed webhook, delivered over HTTP, opens the bounty."""
    import stripe

    ck = http.account("client")["api_key"]
    bounty = http.ok("POST", "/v1/bounties", {
        "title": "Proofread a page", "description": "One page of English.",
        "reward": {"amount": 300, "currency": "usd"}, "deadline": _deadline(86400)}, status=201, key=ck)
    assert bounty["status"] == "awaiting_funding"
    stripe_client = stripe.StripeClient("sk_test_local", base_addresses={"api": local_stack.env["STRIPE_API_BASE"]})
    intent = stripe_client.v1.payment_intents.confirm(bounty["funding"]["payment_intent_id"],
                                                      {"payment_method": "pm_card_visa"})
    assert intent["status"] == "succeeded"
    assert _eventually(lambda: http.ok("GET", f"/v1/bounties/{bounty['id']}", key=ck)["status"] == "open")
    ledger = http.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=ck)
    assert ledger["totals"]["funded"] == 330 and ledger["totals"]["held"] == 330


def test_a_method_and_path_with_no_route_is_404_in_our_error_shape(http, local_stack):
    """As deployed (the gateway responses in the template): never chalice local's 403 "Missing Authentication
    Token"."""
    for method, path, key in (("GET", "/v1/nothing-here", None), ("POST", "/nowhere", "bk_whatever"),
                              ("GET", "/v1/bounties/bty_x/claims/extra", None)):
        code, data = http.call(method, path, key=key)
        assert code == 404, (method, path, code, data)
        assert data["error"]["code"] == "not_found" and data["error"]["message"], data
    code, _ = http.call("GET", "/v1/openapi.json")
    assert code == 200


def test_unserved_methods_get_405_in_our_error_shape_with_what_is_allowed(http, local_stack):
    for method, path, allowed in (("HEAD", "/v1/bounties", "GET, POST"), ("DELETE", "/v1/openapi.json", "GET"),
                                  ("POST", "/v1/openapi.json", "GET")):
        request = urllib.request.Request(http.base_url + path, method=method)
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError(f"{method} {path} was served")
        except urllib.error.HTTPError as error:
            assert (error.code, error.headers["Allow"]) == (405, allowed), (method, path)
            body = error.read()
            assert method == "HEAD" or json.loads(body)["error"]["code"] == "method_not_allowed"
    for method in ("TRACE", "FOO"):
        request = urllib.request.Request(http.base_url + "/v1/bounties", method=method)
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError(f"{method} was served")
        except urllib.error.HTTPError as error:
            assert error.code == 405 and json.loads(error.read())["error"]["code"] == "method_not_allowed"
    # With a body, on a connection kept alive: the next request on it is read as itself, not after that body.
    from http.client import HTTPConnection

    host, port = http.base_url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=10)
    connection.request("TRACE", "/v1/bounties", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert connection.getresponse().read() and connection.sock is not None
    connection.request("GET", "/v1/bounties?limit=1")
    answer = connection.getresponse()
    assert answer.status == 200 and "items" in json.loads(answer.read())
    connection.close()


def test_a_burst_of_connections_is_served_not_reset(http, local_stack):
    """API Gateway takes every connection of a burst; the local server queues them rather than resetting some."""
    from concurrent.futures import ThreadPoolExecutor

    def fetch(_):
        with urllib.request.urlopen(http.base_url + "/v1/bounties?limit=100", timeout=60) as response:
            return response.status

    with ThreadPoolExecutor(max_workers=100) as pool:
        assert set(pool.map(fetch, range(200))) == {200}


def test_a_chunked_body_is_read_not_dropped(http, local_stack):
    """A body sent with `Transfer-Encoding: chunked` (a streaming client: requests with a generator, fetch with a
    stream, curl -T -) was dropped by `chalice local`, which reads `Content-Length` bytes only: the request ran as if
    it had no body (an approval without its rating, an account "missing" every field) and the chunks were left on
    the connection to be read as the next request. API Gateway reads such a body as any other."""
    from http.client import HTTPConnection

    host, port = http.base_url.removeprefix("http://").split(":")
    body = json.dumps({"role": "client", "name": "Chunked Co", "email": "chunked@example.com"}).encode()
    connection = HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/v1/accounts", body=iter([body[:7], body[7:30], body[30:]]),
                       headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                       encode_chunked=True)
    answer = connection.getresponse()
    created = json.loads(answer.read())
    assert answer.status == 201 and created["name"] == "Chunked Co", created
    # The connection, kept alive, reads the next request as itself.
    connection.request("GET", "/v1/bounties?limit=1")
    answer = connection.getresponse()
    assert answer.status == 200 and "items" in json.loads(answer.read())
    connection.close()
    # Chunks that do not parse are refused in the error shape, and the connection is closed.
    connection = HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/v1/accounts")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders(b"zz\r\n{}\r\n0\r\n\r\n")
    answer = connection.getresponse()
    assert answer.status == 400 and json.loads(answer.read())["error"]["code"] == "request_refused"
    connection.close()
    # A Content-Length that is no number was answered with a dropped connection; now a 400 in the error shape.
    for length in ("abc", "-5", "1e3"):
        connection = HTTPConnection(host, int(port), timeout=10)
        connection.putrequest("POST", "/v1/accounts")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", length)
        connection.endheaders(b"{}")
        answer = connection.getresponse()
        assert answer.status == 400 and json.loads(answer.read())["error"]["code"] == "request_refused", length
        connection.close()


def test_requests_the_http_server_cannot_read_are_refused_in_the_error_shape(http, local_stack):
    """An over-long URL (414), over-large or too many headers (431) or a request line that is no HTTP (400) were
    answered by http.server's own HTML page; deployed, API Gateway answers those in our shape (`request_refused`)."""
    import socket

    host, port = http.base_url.removeprefix("http://").split(":")
    for request, status in ((b"GET /v1/bounties?tag=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
                            (b"GET /v1/bounties HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
                            (b"GET /v1/bounties HTTP/1.1\r\nHost: x\r\n"
                             + b"".join(b"X-%d: a\r\n" % i for i in range(120)) + b"\r\n", 431),
                            (b"GET /v1/bounties HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400)):
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(request)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].startswith(b"HTTP/1.1 %d" % status), head
        assert b"content-type: application/json" in head.lower(), head
        error = json.loads(body)["error"]
        assert error["code"] == "request_refused" and error["message"], error
