"""Timers on `make run`'s stack in real time, with the shortest durations the API allows (60 s): a bounty
expires and is refunded, a claim lapses, a silent client's submission is approved and paid."""

from __future__ import annotations

import urllib.request

import pytest

from tests.e2e.test_local_stack import _deadline, _eventually

pytestmark = pytest.mark.e2e


def test_expiry_lapse_and_auto_approval_in_real_time(http):
    client, freelancer = http.account("client"), http.account("freelancer")
    ck, fk = client["api_key"], freelancer["api_key"]
    link = http.ok("POST", "/v1/accounts/me/payout-onboarding", key=fk)["url"]
    urllib.request.urlopen(urllib.request.Request(link, data=b""), timeout=10).close()

    def post(title, **fields):
        body = {"title": title, "description": "timers", "reward": {"amount": 400, "currency": "usd"},
                "deadline": _deadline(3600), "payment_method": "pm_card_visa", **fields}
        return http.ok("POST", "/v1/bounties", body, status=201, key=ck)

    expiring = post("Expires", slots=2, deadline=_deadline(62))
    lapsing = post("Claim lapses", claim_seconds=60)
    reviewed = post("Client stays silent", review_window_seconds=60)
    http.ok("POST", f"/v1/bounties/{lapsing['id']}/claims", status=201, key=fk)
    assert http.ok("GET", f"/v1/bounties/{lapsing['id']}")["slots_left"] == 0
    submission = http.ok("POST", f"/v1/bounties/{reviewed['id']}/submissions", {"content": "done"}, status=201,
                         key=fk)

    # Generous waits: how quickly timers fire is measured by the benchmarks, not asserted here.
    _eventually(lambda: http.ok("GET", f"/v1/bounties/{lapsing['id']}")["slots_left"] == 1, timeout=120)
    _eventually(lambda: http.ok("GET", f"/v1/submissions/{submission['id']}", key=fk)["status"] == "approved",
                timeout=60)
    _eventually(lambda: http.ok("GET", f"/v1/bounties/{expiring['id']}", key=ck)["status"] == "expired",
                timeout=60)

    decided = http.ok("GET", f"/v1/submissions/{submission['id']}", key=fk)
    assert decided["auto_approved"] is True
    paid = _eventually(lambda: next((p for p in http.ok("GET", "/v1/payouts", key=fk)["items"]
                                     if p["submission_id"] == submission["id"] and p["status"] == "paid"), None))
    assert paid["transfer_id"].startswith("tr_")
    refunded = _eventually(lambda: http.ok("GET", f"/v1/bounties/{expiring['id']}/ledger", key=ck)["totals"]
                           if http.ok("GET", f"/v1/bounties/{expiring['id']}/ledger", key=ck)["totals"]["held"] == 0
                           else None)
    assert refunded["refunded"] == refunded["funded"] == 880
