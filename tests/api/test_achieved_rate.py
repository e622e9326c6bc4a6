"""What a bounty really pays per hour (an extension of API.md): beside the client's estimate, the rate approved
work on it achieved, timed from each freelancer's claim to their submission, in every view of the bounty."""

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import time_bounties as _time_bounties
from devtools import local_iam

time_bounties = local_iam.as_operator(_time_bounties)


def _achieved(api, bounty_id: str, key: str | None = None) -> dict | None:
    return api.ok("GET", f"/v1/bounties/{bounty_id}", key=key)["achieved"]


def test_the_bounty_shows_what_approved_work_earned_per_hour(api, client_acct, workers, clock):
    key = client_acct["api_key"]
    bounty = api.bounty(key, reward={"amount": 600, "currency": "usd"}, slots=3, estimated_minutes=10,
                        review_window_seconds=3600, tags=["achieved-rate"])
    bid = bounty["id"]
    assert bounty["achieved"] is None and bounty["effective_hourly_rate"]["amount"] == 3600  # the client's word
    quick, slow, unclaimed = (api.account("freelancer") for _ in range(3))
    for who in (quick, slow):
        api.ok("POST", f"/v1/bounties/{bid}/claims", status=201, key=who["api_key"])
    clock.advance(30 * 60)
    first = api.ok("POST", f"/v1/bounties/{bid}/submissions", {"content": "done"}, status=201, key=quick["api_key"])
    clock.advance(60 * 60 - 1)
    second = api.ok("POST", f"/v1/bounties/{bid}/submissions", {"content": "done"}, status=201, key=slow["api_key"])
    third = api.ok("POST", f"/v1/bounties/{bid}/submissions", {"content": "done"}, status=201,
                   key=unclaimed["api_key"])
    assert _achieved(api, bid) is None  # nothing approved yet

    api.ok("POST", f"/v1/submissions/{first['id']}/approve", {"rating": 5}, key=key)
    api.ok("POST", f"/v1/submissions/{third['id']}/approve", key=key)  # no claim: no time to count
    expected = {"submissions": 1, "mean_seconds": 1800, "hourly_rate": {"amount": 1200, "currency": "usd"}}
    assert _achieved(api, bid) == expected
    [listed] = [b for b in api.ok("GET", "/v1/bounties?tag=achieved-rate&limit=100")["items"] if b["id"] == bid]
    assert listed["achieved"] == expected

    # The slow freelancer's work (an hour and a half, less a second) is approved when the client stays silent.
    clock.advance(3600)
    workers.sweep()
    workers.drain()
    assert api.ok("GET", f"/v1/submissions/{second['id']}", key=key)["auto_approved"] is True
    # 1200 for 2 h less a second; the bounty is completed now, so only its owner still sees it.
    assert _achieved(api, bid, key=key) == {"submissions": 2, "mean_seconds": 3600,
                                            "hourly_rate": {"amount": 600, "currency": "usd"}}
    assert api.ok("GET", f"/v1/bounties/{bid}", key=key)["effective_hourly_rate"]["amount"] == 3600


def test_rejected_work_is_not_counted(api, client_acct, freelancer, clock):
    key = client_acct["api_key"]
    bounty = api.bounty(key)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=freelancer["api_key"])
    clock.advance(600)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    api.ok("POST", f"/v1/submissions/{sub['id']}/reject", {"reason": "Not what was asked."}, key=key)
    assert _achieved(api, bounty["id"]) is None


def test_work_approved_before_bounties_kept_its_time_is_counted_once(api, workers, client_acct, clock):
    """An upgrade from a release whose approvals kept no totals: `python -m ops time-bounties` counts them from the
    approved work itself (a Scan, for an operator); running it again changes nothing, and approvals after it add
    to what it counted."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, reward={"amount": 1000, "currency": "usd"}, slots=3)
    timed, untimed, later = (api.account("freelancer") for _ in range(3))
    for who in (timed, later):
        api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=who["api_key"])
    clock.advance(20 * 60)
    for who in (timed, untimed):
        sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                     key=who["api_key"])
        api.ok("POST", f"/v1/submissions/{sub['id']}/approve", key=key)
    item = m.BountyModel.get(bounty["id"])  # as an earlier release stored it
    item.update([m.BountyModel.timed_submissions.remove(), m.BountyModel.timed_micros.remove()])
    assert _achieved(api, bounty["id"]) is None

    assert time_bounties() == 1
    assert _achieved(api, bounty["id"]) == {"submissions": 1, "mean_seconds": 1200,
                                            "hourly_rate": {"amount": 3000, "currency": "usd"}}
    assert time_bounties() == 0
    clock.advance(20 * 60)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=later["api_key"])
    api.ok("POST", f"/v1/submissions/{sub['id']}/approve", key=key)
    assert _achieved(api, bounty["id"], key=key) == {"submissions": 2, "mean_seconds": 1800,
                                                     "hourly_rate": {"amount": 2000, "currency": "usd"}}
    assert time_bounties() == 0
    workers.drain()
