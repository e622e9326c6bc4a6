"""Timers on `make run`'s stack in real time, with the shortest durations the API allows (60 s): a bounty
expires and is refunded, a claim lapses, a silent client's submission is approved and paid."""

from __future__ import annotations

import pytest

from tests.e2e.test_local_stack import _eventually

pytestmark = pytest.mark.e2e


def test_expiry_lapse_and_auto_approval_in_real_time(http, timed_work):
    """The work was posted when the stack started (tests/e2e/conftest.py), so its timers are usually due by now."""
    ck, fk = timed_work["client_key"], timed_work["freelancer_key"]
    expiring, lapsing, submission = timed_work["expiring"], timed_work["lapsing"], timed_work["submission"]

    # Generous waits: how quickly timers fire is measured by the benchmarks, not asserted here.
    _eventually(lambda: http.ok("GET", f"/v1/bounties/{lapsing}")["slots_left"] == 1, timeout=120)
    _eventually(lambda: http.ok("GET", f"/v1/submissions/{submission}", key=fk)["status"] == "approved",
                timeout=60)
    _eventually(lambda: http.ok("GET", f"/v1/bounties/{expiring}", key=ck)["status"] == "expired",
                timeout=60)

    decided = http.ok("GET", f"/v1/submissions/{submission}", key=fk)
    assert decided["auto_approved"] is True
    paid = _eventually(lambda: next((p for p in http.ok("GET", "/v1/payouts", key=fk)["items"]
                                     if p["submission_id"] == submission and p["status"] == "paid"), None))
    assert paid["transfer_id"].startswith("tr_")
    refunded = _eventually(lambda: http.ok("GET", f"/v1/bounties/{expiring}/ledger", key=ck)["totals"]
                           if http.ok("GET", f"/v1/bounties/{expiring}/ledger", key=ck)["totals"]["held"] == 0
                           else None)
    assert refunded["refunded"] == refunded["funded"] == 880
