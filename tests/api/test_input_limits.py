"""Limits on query strings, path ids and headers: each refused in the error shape, never with a 5xx, and each
stated in /v1/openapi.json (docs/LIMITS.md lists them all). Regression tests for what the fuzzing turned up."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.http import ROUTES
from chalicelib.api.openapi import error_statuses
from chalicelib.core import rules


def _refused(api, path, status, code, **kw):
    got, body = api.call("GET", path, **kw) if "body" not in kw else api.call("POST", path, **kw)
    assert got == status, (path, got, body)
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"], body


@pytest.mark.parametrize("query, code", [
    ("limit=%C2%B2", "invalid_limit"),  # '²': str.isdigit() says yes, int() says no (was a 500)
    ("limit=%D9%A3", "invalid_limit"),  # an Arabic-Indic three
    ("limit=0", "invalid_limit"), ("limit=101", "invalid_limit"), ("limit=", "invalid_limit"),
    ("min_reward=%C2%B2", "invalid_min_reward"),  # was a 500
    ("min_reward=-1", "invalid_min_reward"),
    (f"min_reward={rules.MAX_REWARD + 1}", "invalid_min_reward"),
    ("min_reward=" + "9" * 40, "invalid_min_reward"),  # more digits than a DynamoDB number holds
    ("status=paid", "invalid_status"), ("status=", "invalid_status"),
    ("tag=" + "x" * 33, "invalid_tag"), ("tag=no%20spaces", "invalid_tag"),
    ("mine=maybe", "invalid_mine"),
    ("cursor=" + "QQ" * 300, "invalid_cursor"),
])
def test_bad_list_queries_are_422(api, query, code):
    _refused(api, f"/v1/bounties?{query}", 422, code)


def test_good_list_queries_still_work(api, client_acct, open_bounty):
    key = client_acct["api_key"]
    assert api.ok("GET", f"/v1/bounties?limit=100&min_reward={rules.MAX_REWARD}&status=open&tag=x-1")["items"] == []
    mine = api.ok("GET", "/v1/bounties?mine=TRUE&status=open&limit=1", key=key)["items"]
    assert [b["id"] for b in mine] == [open_bounty["id"]]


@pytest.mark.parametrize("path", [
    "/v1/bounties/{long}", "/v1/submissions/{long}", "/v1/bounties/{long}/messages", "/v1/bounties/{long}/ledger",
])
def test_ids_longer_than_any_we_issue_name_nothing(api, client_acct, path):
    long_id = "bty_" + "x" * 3000  # beyond DynamoDB's 2,048-byte key: must not reach it
    _refused(api, path.format(long=long_id), 404, "not_found", key=client_acct["api_key"])
    # The key is still checked first: without one it is 401, whatever the id.
    _refused(api, "/v1/submissions/" + long_id, 401, "unauthenticated")


def test_an_empty_idempotency_key_is_refused_not_ignored(api, client_acct):
    _refused(api, "/v1/accounts/me/keys", 422, "invalid_idempotency_key", body={}, key=client_acct["api_key"],
             headers={"Idempotency-Key": ""})
    _refused(api, "/v1/accounts/me/keys", 422, "invalid_idempotency_key", body={}, key=client_acct["api_key"],
             headers={"Idempotency-Key": "k" * 256})


@pytest.mark.parametrize("amount", [rules.MIN_REWARD - 1, rules.MAX_REWARD + 1, 0, -5])
def test_reward_limits_are_refused_and_stated_in_the_document(api, client_acct, amount):
    code, body = api.post("/v1/bounties", {"title": "t", "description": "d", "reward": {"amount": amount},
                                           "deadline": "2099-01-01T00:00:00Z"}, key=client_acct["api_key"])
    assert code == 422 and body["error"]["code"] == "validation_error" and "reward.amount" in body["error"]["message"]
    reward = api.ok("GET", "/v1/openapi.json")["components"]["schemas"]["Reward"]["properties"]["amount"]
    assert (reward["minimum"], reward["maximum"]) == (rules.MIN_REWARD, rules.MAX_REWARD)


def test_whole_numbers_written_as_floats_are_taken_as_the_documents_integers_and_fractions_are_not(
        api, client_acct, freelancer):
    """JSON Schema's "integer" (the document's) takes 500.0 and 5e2 as 500; 500.5 and true stay refused."""
    from datetime import UTC, datetime, timedelta

    deadline = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = ('{"title": "t", "description": "d", "reward": {"amount": 5e2, "currency": "usd"}, "slots": 2.0, '
           f'"deadline": "{deadline}", "estimated_minutes": 30.0, "payment_method": "pm_card_visa"}}')
    code, bounty = api.call("POST", "/v1/bounties", key=client_acct["api_key"], raw=raw)
    assert code == 201 and (bounty["reward"]["amount"], bounty["slots"]) == (500, 2), bounty
    # 500.00000000000001 is 500 to a float; written exactly, it is no whole number.
    for amount in ("500.5", "true", "1e400", "500.00000000000001", "5.000000000000000001e2"):
        code, body = api.call("POST", "/v1/bounties", key=client_acct["api_key"],
                              raw=raw.replace("5e2", amount))
        assert code == 422 and "reward.amount" in body["error"]["message"], (amount, body)


def test_a_number_with_more_digits_than_the_parser_takes_is_an_out_of_range_value_not_bad_json(api, client_acct):
    """JSON sets no limit on digits, so the body is JSON; the value is past every limit of ours: 422, not 400."""
    raw = '{"title": "t", "description": "d", "reward": {"amount": %s}, "deadline": "2099-01-01T00:00:00Z"}'
    code, body = api.call("POST", "/v1/bounties", key=client_acct["api_key"], raw=raw % ("9" * 5000))
    assert code == 422 and body["error"]["code"] == "validation_error", body
    assert "out of range" in body["error"]["message"]
    code, body = api.call("POST", "/v1/bounties", key=client_acct["api_key"], raw=raw % "[9")
    assert code == 400 and body["error"]["code"] == "invalid_json", body
    # An exponent past what Decimal can do arithmetic on, beside a whole float (which has the body read again).
    huge = raw.replace('"d", ', '"d", "slots": 1e1000000, ') % "5e2"
    code, body = api.call("POST", "/v1/bounties", key=client_acct["api_key"], raw=huge)
    assert code == 422 and "slots" in body["error"]["message"], body


def test_a_body_nested_deeper_than_python_parses_is_400_with_or_without_an_idempotency_key(api, client_acct):
    deep = "[" * 30_000 + "]" * 30_000  # under the 64 KiB limit; a RecursionError in json.loads
    for headers in ({}, {"Idempotency-Key": "deep"}):
        code, body = api.call("POST", "/v1/accounts", raw=deep, headers=headers)
        assert (code, body["error"]["code"]) == (400, "invalid_json"), (headers, body)
        code, body = api.call("POST", "/v1/bounties", raw=deep, key=client_acct["api_key"], headers=headers)
        assert (code, body["error"]["code"]) == (400, "invalid_json"), (headers, body)


@pytest.mark.parametrize("field, text, says", [
    ("title", "\u200b\u200b", "visible character"),  # zero-width spaces only: shows as nothing
    ("title", "\ufeff \u2060", "visible character"),  # a byte-order mark and a word joiner
    ("title", "Two\nlines", "U+000A"),  # a title is one line
    ("title", "Two\u2028lines", "U+2028"),  # Unicode's own line separator too
    ("title", "NUL\u0000here", "U+0000"),
    ("title", "Logo \u202egnp.exe", "U+202E"),  # shows as "Logo exe.png"
    ("title", "Ada \u2067x", "U+2067"),  # an isolate
    ("description", "bell\u0007", "U+0007"),
    ("description", "\u200d", "visible character"),
])
def test_text_that_shows_as_nothing_or_holds_control_characters_is_refused(api, client_acct, field, text, says):
    body = {"title": "t", "description": "d", "reward": {"amount": 500}, "deadline": "2099-01-01T00:00:00Z",
            field: text}
    code, answer = api.call("POST", "/v1/bounties", key=client_acct["api_key"], raw=json.dumps(body))
    assert code == 422 and answer["error"]["code"] == "validation_error", answer
    assert f"'{field}' must" in answer["error"]["message"] and says in answer["error"]["message"], answer


@pytest.mark.parametrize("link, says", [
    ("https://example.com/\u202egnp.exe", "U+202E"),  # the client reviewing the work sees ".../exe.png"
    ("https://example.com/\u001b[2J", "U+001B"),  # a terminal escape: clears the screen of a client's script
    ("https://example.com/\u0000", "U+0000"),
])
def test_a_link_holds_no_control_characters_nor_controls_of_direction(api, freelancer, open_bounty, link, says):
    """A link is a line of text the client reads before clicking: refused as a title would be (it was taken)."""
    code, answer = api.post(f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "done", "links": [link]},
                            key=freelancer["api_key"])
    assert (code, answer["error"]["code"]) == (422, "validation_error"), answer
    assert "'links.0' must" in answer["error"]["message"] and says in answer["error"]["message"], answer


def test_a_name_is_one_line_and_in_the_order_it_shows(api):
    code, answer = api.post("/v1/accounts", {"role": "client", "name": "Acme \u202enoitaroproc", "email": "a@b.co"})
    assert (code, answer["error"]["code"]) == (422, "validation_error") and "U+202E" in answer["error"]["message"]


@pytest.mark.parametrize("name", ["\u000b" + "a" * 100, " " + "a" * 100, "a" * 100 + "\n"])
def test_a_length_limit_counts_the_text_as_sent_and_white_space_at_its_ends_is_trimmed_within_it(api, name):
    """The document's maxLength is of the string sent: white space at an end does not trim a longer one into it."""
    code, answer = api.post("/v1/accounts", {"role": "client", "name": name, "email": "a@b.co"})
    assert (code, answer["error"]["code"]) == (422, "validation_error") and "100" in answer["error"]["message"]
    created = api.ok("POST", "/v1/accounts", {"role": "client", "name": " " + "a" * 98 + " ", "email": "a@b.co"},
                     status=201)
    assert created["name"] == "a" * 98


@pytest.mark.parametrize("field, value", [("tags", [" images"]), ("tags", ["images\n"]),
                                          ("links", ["https://example.com/x "])])
def test_a_value_with_a_pattern_is_taken_as_sent_white_space_and_all(api, client_acct, open_bounty, field, value):
    """The document's pattern is of the value sent: white space around a tag or a link is refused, not trimmed."""
    if field == "tags":
        body = {"title": "t", "description": "d", "reward": {"amount": 500}, "deadline": "2099-01-01T00:00:00Z",
                "tags": value}
        code, answer = api.post("/v1/bounties", body, key=client_acct["api_key"])
    else:
        code, answer = api.post("/v1/accounts", {"role": "client", "name": "n", "email": " a@b.co "})
        assert (code, answer["error"]["code"]) == (422, "validation_error"), answer
        worker = api.account("freelancer")
        code, answer = api.post(f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x", field: value},
                                key=worker["api_key"])
    assert (code, answer["error"]["code"]) == (422, "validation_error"), answer
    assert field in answer["error"]["message"]


def test_multi_line_text_keeps_its_tabs_and_line_breaks(api, client_acct, open_bounty):
    raw = json.dumps({"body": "First line\r\n\tindented \u00e9 \u4e2d \U0001f600"})
    code, message = api.call("POST", f"/v1/bounties/{open_bounty['id']}/messages", key=client_acct["api_key"],
                             raw=raw)
    assert code == 201 and message["body"] == "First line\r\n\tindented \u00e9 \u4e2d \U0001f600", message


def test_the_document_states_every_query_and_path_limit_and_every_error_status(api):
    doc = api.ok("GET", "/v1/openapi.json")
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        for param in operation["parameters"]:
            schema = param["schema"]
            bounded = {"maxLength", "maximum", "enum"} & set(schema) or schema.get("type") == "boolean"
            assert bounded, (route.path, param)
        documented = {int(code) for code in operation["responses"] if code.startswith(("4", "5"))}
        assert documented == set(error_statuses(route)), route.path
        for code in documented:
            ref = operation["responses"][str(code)]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorOut")
    assert 503 in error_statuses(next(r for r in ROUTES if (r.method, r.path) == ("POST", "/v1/bounties")))
    assert 401 not in error_statuses(next(r for r in ROUTES if (r.method, r.path) == ("POST", "/v1/accounts")))


def test_the_web_pages_ids_longer_than_any_we_issue_name_nothing(api):
    """As the API's: DynamoDB refuses a key over 2,048 bytes on a read too, so the bounty page answered 500 in
    production (moto answered it with nothing found, until the dev server's strict checks refused it)."""
    long_id = "bty_" + "x" * 3000
    page = api.client.http.get(f"/web/bounties/{long_id}")
    assert page.status_code == 404 and b"No bounty with an id of 3004 characters exists." in page.body


def test_a_long_id_on_a_public_page_is_a_404_for_a_visitor_whose_key_was_revoked(api, freelancer):
    """A page open to all is shown again, signed out, to a visitor whose key was revoked: that second showing
    skipped the check of the id's length, so the read reached DynamoDB with a key over its 2,048 bytes (a 500)."""
    import time

    from chalicelib.web import session

    [key] = api.ok("GET", "/v1/accounts/me/keys", key=freelancer["api_key"])["items"]
    spare = api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=freelancer["api_key"])
    api.ok("DELETE", f"/v1/accounts/me/keys/{key['id']}", key=spare["api_key"])
    revoked = session.dump(session.new_session(time.time(), account_id=freelancer["id"], role="freelancer",
                                               key_id=key["id"], name="F", key_hash="0" * 64))
    long_id = "bty_" + "x" * 3000
    page = api.client.http.get(f"/web/bounties/{long_id}",
                               headers={"cookie": f"{session.cookie_name(session.COOKIE)}={revoked}"})
    assert page.status_code == 404 and b"No bounty with an id of 3004 characters exists." in page.body
