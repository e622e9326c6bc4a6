"""Amounts at the edges of what the limits allow: a rate or a fee share that rounds down to nothing must not turn
an answer into a 500 (money is a positive amount, API.md), and the ledger still balances."""

from chalicelib.core import earnings


def test_a_rate_under_one_cent_an_hour_is_shown_as_one(api, client_acct):
    # 50 cents for a week of work: 0.3 cents an hour. Before, every listing that held it answered 500.
    bounty = api.bounty(client_acct["api_key"], reward={"amount": 50, "currency": "usd"}, estimated_minutes=10080,
                        tags=["tiny-rate"])
    assert bounty["effective_hourly_rate"] == {"amount": 1, "currency": "usd"}
    listed = api.ok("GET", "/v1/bounties?tag=tiny-rate&limit=100")["items"]
    assert bounty["id"] in {b["id"] for b in listed}
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["effective_hourly_rate"]["amount"] == 1
    assert earnings.hourly_rate(50, 10080) == 1 and earnings.hourly_rate(50, 3000) == 1
    assert earnings.hourly_rate(50, 60) == 50


def test_a_platform_fee_of_nothing_leaves_no_empty_ledger_entry(api, workers, client_acct, payable_freelancer,
                                                                monkeypatch):
    monkeypatch.setenv("PLATFORM_FEE_BPS", "0")  # configurable: a platform may charge nothing
    key = client_acct["api_key"]
    bounty = api.bounty(key, reward={"amount": 700, "currency": "usd"})
    assert bounty["funding"]["fee"] == 0 and bounty["funding"]["amount_total"] == 700
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                 key=payable_freelancer["api_key"])
    api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=key)
    workers.drain()
    [payout] = api.ok("GET", "/v1/payouts", key=payable_freelancer["api_key"])["items"]
    assert payout["status"] == "paid"
    ledger = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)
    assert ledger["totals"] == {"funded": 700, "paid_out": 700, "fees": 0, "refunded": 0, "held": 0}
    assert sorted(e["kind"] for e in ledger["entries"]) == ["funded", "paid_out"]
    assert all(e["amount"]["amount"] > 0 for e in ledger["entries"])
