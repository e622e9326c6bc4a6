"""Money out through the real workers: SQS on moto, Stripe Connect on localstripe with our plugin."""



def _ledger_balances(api, client_key, bounty_id):
    ledger = api.ok("GET", f"/v1/bounties/{bounty_id}/ledger", key=client_key)
    totals = ledger["totals"]
    assert totals["funded"] == totals["paid_out"] + totals["fees"] + totals["refunded"] + totals["held"]
    return totals


def test_approved_work_is_paid_once_after_onboarding(api, workers, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], slots=2, reward={"amount": 1000, "currency": "usd"})
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                 key=freelancer["api_key"])
    api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {"rating": 5}, key=client_acct["api_key"])
    workers.drain()
    [payout] = api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]
    assert payout["status"] == "awaiting_onboarding" and payout["transfer_id"] is None

    api.onboard(freelancer)
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])
    workers.drain()
    [payout] = api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]
    assert payout["status"] == "paid" and payout["transfer_id"].startswith("tr_")
    me = api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])
    assert me["earned"] == [{"amount": 1000, "currency": "usd"}]
    totals = _ledger_balances(api, client_acct["api_key"], bounty["id"])
    assert totals == {"funded": 2200, "paid_out": 1000, "fees": 100, "refunded": 0, "held": 1100}

    # The same message again, days later, pays nothing more.
    workers.deliver_again(workers.payouts_queue, {"payout_id": payout["id"]})
    workers.drain()
    assert len(workers.transfers_for(bounty["id"])) == 1


def test_cancel_refunds_unspent_slots_once_and_keeps_pending_work(api, workers, client_acct, freelancer):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=3, reward={"amount": 333, "currency": "usd"})
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    workers.drain()
    totals = _ledger_balances(api, key, bounty["id"])
    # Two free slots: their rewards and two thirds of the fee (rounded down: 66 of 100).
    assert totals["refunded"] == 666 + 66 and totals["held"] == 333 + 34
    # The pending submission is still reviewed: rejecting it refunds its slot too.
    api.ok("POST", f"/v1/submissions/{sub['id']}/reject", {"reason": "off topic"}, key=key)
    workers.drain()
    totals = _ledger_balances(api, key, bounty["id"])
    assert totals["refunded"] == 1099 and totals["held"] == 0
    assert workers.refunded_on_stripe(bounty) == 1099
    workers.deliver_again(workers.refunds_queue, {"bounty_id": bounty["id"]})
    workers.drain()
    assert workers.refunded_on_stripe(bounty) == 1099
