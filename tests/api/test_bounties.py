import uuid
from datetime import UTC, datetime, timedelta


def _deadline(**delta):
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_post_with_payment_method_is_funded_at_once(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], slots=3, estimated_minutes=30, tags=["Design", "logo"])
    assert bounty["status"] == "open"
    assert bounty["id"].startswith("bty_")
    assert bounty["slots_left"] == 3
    assert bounty["tags"] == ["design", "logo"]
    assert bounty["effective_hourly_rate"] == {"amount": 1000, "currency": "usd"}
    funding = bounty["funding"]
    assert funding["fee"] == 150 and funding["amount_total"] == 1650
    assert funding["payment_intent_id"].startswith("pi_") and funding["client_secret"]
    ledger = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=client_acct["api_key"])
    assert ledger["totals"] == {"funded": 1650, "paid_out": 0, "fees": 0, "refunded": 0, "held": 1650}
    assert [e["kind"] for e in ledger["entries"]] == ["funded"]


def test_post_without_payment_method_awaits_funding_and_is_private(api, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], payment_method=None)
    assert bounty["status"] == "awaiting_funding"
    assert bounty["funding"]["client_secret"]
    code, _ = api.get(f"/v1/bounties/{bounty['id']}")
    assert code == 404
    code, _ = api.get(f"/v1/bounties/{bounty['id']}", key=freelancer["api_key"])
    assert code == 404
    own = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=client_acct["api_key"])
    assert own["status"] == "awaiting_funding"


def test_declined_card_leaves_bounty_funding_failed_and_retry_can_fund(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], payment_method="pm_card_chargeCustomerFail")
    assert bounty["status"] == "funding_failed", bounty
    assert bounty["funding"]["error"]
    retried = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"},
                     key=client_acct["api_key"])
    assert retried["status"] == "open"


def test_public_view_hides_funding_details(api, open_bounty, freelancer):
    public = api.ok("GET", f"/v1/bounties/{open_bounty['id']}")
    assert public["funding"] is None
    assert public["status"] == "open"


def test_create_bounty_validation(api, client_acct, freelancer):
    key = client_acct["api_key"]
    base = {"title": "t", "description": "d", "reward": {"amount": 500, "currency": "usd"},
            "deadline": _deadline(days=1)}
    bad = [
        {"reward": {"amount": 0, "currency": "usd"}},
        {"reward": {"amount": -5, "currency": "usd"}},
        {"reward": {"amount": 5.5, "currency": "usd"}},
        {"reward": {"amount": "500", "currency": "usd"}},
        {"reward": {"amount": 500, "currency": "xyz"}},
        {"reward": {"amount": 10, "currency": "usd"}},
        {"deadline": _deadline(seconds=30)},
        {"deadline": _deadline(days=400)},
        {"deadline": "2030-01-01T00:00:00"},
        {"deadline": "tomorrow"},
        {"review_window_seconds": 59},
        {"claim_seconds": 31 * 24 * 3600},
        {"slots": 0},
        {"title": "   "},
        {"title": "x" * 201},
        {"tags": ["ok", "not ok!"]},
        {"tags": [f"t{i}" for i in range(11)]},
        {"surprise": True},
    ]
    for change in bad:
        code, data = api.post("/v1/bounties", {**base, **change}, key=key)
        assert code == 422, (change, code, data)
        assert set(data["error"]) == {"code", "message"}
    code, data = api.post("/v1/bounties", base, key=freelancer["api_key"])
    assert code == 403 and data["error"]["code"] == "wrong_role"
    code, _ = api.post("/v1/bounties", base)
    assert code == 401


def test_list_open_newest_first_with_filters_and_cursor(api, client_acct):
    key = client_acct["api_key"]
    tag = f"t{uuid.uuid4().hex[:10]}"
    made = [api.bounty(key, tags=[tag], reward={"amount": 100 * (i + 1), "currency": "usd"}) for i in range(5)]
    page1 = api.ok("GET", f"/v1/bounties?tag={tag}&limit=2")
    page2 = api.ok("GET", f"/v1/bounties?tag={tag}&limit=2&cursor={page1['next_cursor']}")
    page3 = api.ok("GET", f"/v1/bounties?tag={tag}&limit=2&cursor={page2['next_cursor']}")
    seen = [b["id"] for b in page1["items"] + page2["items"] + page3["items"]]
    assert seen == [b["id"] for b in reversed(made)]
    assert page3["next_cursor"] is None
    rich = api.ok("GET", f"/v1/bounties?tag={tag}&min_reward=300")
    assert {b["reward"]["amount"] for b in rich["items"]} == {300, 400, 500}
    assert all(b["funding"] is None for b in rich["items"])


def test_a_cursor_is_good_only_as_handed_out_and_only_for_its_own_list(api, client_acct):
    import base64

    key = client_acct["api_key"]
    tag = f"t{uuid.uuid4().hex[:10]}"
    for _ in range(3):
        api.bounty(key, tags=[tag])
    cursor = api.ok("GET", f"/v1/bounties?tag={tag}&limit=1")["next_cursor"]
    mine_cursor = api.ok("GET", "/v1/bounties?mine=true&limit=1", key=key)["next_cursor"]
    body = cursor.split(".")[0]
    made_up = base64.urlsafe_b64encode(b"2030-01-01T00:00:00+00:00#bty_x").decode().rstrip("=")
    edited = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    for forged in (made_up, body, f"{made_up}.{cursor.split('.')[1]}", edited, mine_cursor):
        code, data = api.get(f"/v1/bounties?tag={tag}&limit=1&cursor={forged}")
        assert (code, data["error"]["code"]) == (422, "invalid_cursor"), forged
    code, data = api.get(f"/v1/bounties?mine=true&limit=1&cursor={cursor}", key=key)
    assert (code, data["error"]["code"]) == (422, "invalid_cursor")
    assert len(api.ok("GET", f"/v1/bounties?mine=true&limit=1&cursor={mine_cursor}", key=key)["items"]) == 1


def test_list_mine_includes_every_status_and_filters_by_status(api):
    client = api.account("client")
    key = client["api_key"]
    unfunded = api.bounty(key, payment_method=None)
    funded = api.bounty(key)
    mine = api.ok("GET", "/v1/bounties?mine=true", key=key)
    assert [b["id"] for b in mine["items"]] == [funded["id"], unfunded["id"]]
    waiting = api.ok("GET", "/v1/bounties?mine=true&status=awaiting_funding", key=key)
    assert [b["id"] for b in waiting["items"]] == [unfunded["id"]]
    public = api.ok("GET", "/v1/bounties?status=awaiting_funding")
    assert public["items"] == []
    code, _ = api.get("/v1/bounties?mine=true")
    assert code == 401


def test_list_parameter_errors(api):
    for query in ("limit=0", "limit=101", "limit=abc", "cursor=garbage!", "min_reward=-1", "mine=maybe"):
        code, data = api.get(f"/v1/bounties?{query}")
        assert code == 422, query
        assert data["error"]["code"]


def test_cancel_open_bounty_stops_new_work(api, client_acct, freelancer, open_bounty):
    key = client_acct["api_key"]
    cancelled = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/cancel", key=key)
    assert cancelled["status"] == "cancelled" and cancelled["slots_left"] == 0
    code, data = api.post(f"/v1/bounties/{open_bounty['id']}/cancel", key=key)
    assert code == 409 and data["error"]["code"] == "bounty_not_open"
    code, _ = api.post(f"/v1/bounties/{open_bounty['id']}/claims", key=freelancer["api_key"])
    assert code == 404


def test_a_cancelled_bounty_takes_no_payment(api, client_acct):
    key = client_acct["api_key"]
    unfunded = api.bounty(key, payment_method=None)
    api.ok("POST", f"/v1/bounties/{unfunded['id']}/cancel", key=key)
    code, data = api.post(f"/v1/bounties/{unfunded['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert (code, data["error"]["code"]) == (409, "bounty_not_open")
    assert api.ok("GET", f"/v1/bounties/{unfunded['id']}", key=key)["status"] == "cancelled"


def test_other_clients_cannot_touch_a_bounty(api, open_bounty):
    stranger = api.account("client")
    for method, path in [("POST", "cancel"), ("GET", "ledger"), ("GET", "submissions")]:
        code, data = api.call(method, f"/v1/bounties/{open_bounty['id']}/{path}", key=stranger["api_key"])
        assert code == 404, path
        assert data["error"]["code"] == "not_found"


def test_unknown_bounty_is_404(api, client_acct):
    code, data = api.get("/v1/bounties/bty_nope")
    assert code == 404 and data["error"]["code"] == "not_found"


def test_many_bounties_read_together_are_shown_as_each_alone_would_be(api, client_acct, freelancer):
    """The web's batch read (more than one round trip's worth) keeps the one-by-one rule: open ones to anyone,
    others to their owner and the freelancers who worked on them, nothing for a bounty that does not exist."""
    from chalicelib.bootstrap import deps
    from chalicelib.core import errors
    from chalicelib.services import accounts, bounties

    key = client_acct["api_key"]
    worked_on = api.bounty(key)
    api.ok("POST", f"/v1/bounties/{worked_on['id']}/claims", status=201, key=freelancer["api_key"])
    others = [api.bounty(key) for _ in range(3)]
    for bounty in (worked_on, others[0]):
        api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", {}, key=key)
    ids = [b["id"] for b in (worked_on, *others)] + [f"bty_missing{n}" for n in range(bounties.BOUNTIES_PER_READ)]

    # The one who claimed also sees the cancelled one they worked on; the owner sees all; a stranger the open two.
    for who, shown in ((freelancer["api_key"], 3), (key, 4), (api.account("freelancer")["api_key"], 2)):
        caller = accounts.authenticate(deps(), f"Bearer {who}")
        together = bounties.get_visible_bounties(deps(), caller, ids)
        alone = {}
        for bounty_id in ids:
            try:
                alone[bounty_id] = bounties.get_visible_bounty(deps(), caller, bounty_id)
            except errors.NotFound:
                alone[bounty_id] = None
        assert together == alone
        assert sum(b is not None for b in together.values()) == shown


def test_a_deadline_one_minute_ahead_written_to_the_second_is_taken(api, client_acct, clock):
    """README: "a bounty with a deadline one minute ahead expires". Written as clients write times, to the whole
    second (as the README's own example does), now + 60 s is 59.something seconds ahead when it arrives, and was
    always refused as under the minimum; so was one written to the millisecond, by its time in flight. A second
    is allowed for both; a deadline a whole second short of the minute is still refused. The app's clock is the
    test's, so the time in flight is what the test says, however loaded the machine."""
    key = client_acct["api_key"]
    written_at = clock.now()  # a whole second
    to_the_second = (written_at + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    clock.advance(0.9)  # in flight: it arrives 59.1 s ahead
    assert api.bounty(key, deadline=to_the_second, payment_method=None)["status"] == "awaiting_funding"
    to_the_millisecond = (clock.now() + timedelta(seconds=60)).isoformat(timespec="milliseconds")
    clock.advance(0.5)
    api.bounty(key, deadline=to_the_millisecond, payment_method=None)
    for short in (clock.now() + timedelta(seconds=59), clock.now() + timedelta(seconds=58.9)):
        code, data = api.post("/v1/bounties", {"title": "t", "description": "d", "deadline": short.isoformat(),
                                               "reward": {"amount": 500, "currency": "usd"}}, key=key)
        assert (code, data["error"]["code"]) == (422, "validation_error"), short
