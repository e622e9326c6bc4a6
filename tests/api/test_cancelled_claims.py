"""A cancelled bounty's live claims end within a timer's run, instead of being listed live until their expiry
(which, for a claim without `claim_seconds`, is the deadline: possibly months away) while no work is taken."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.bootstrap import deps
from chalicelib.core.model import END_CLAIMS
from chalicelib.services import timers, work
from devtools import local_iam


def _at(clock, seconds: int) -> str:
    return (clock.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tick(clock, workers, seconds: float = 1) -> None:
    clock.advance(seconds)
    workers.sweep()
    workers.drain()


def _claims(api, key: str) -> dict[str, str]:
    return {c["id"]: c["status"] for c in api.ok("GET", "/v1/claims?limit=100", key=key)["items"]}


def _listed_in_my_work(freelancer_id: str) -> dict[str, str]:
    page = deps().repo.list_work(freelancer_id, limit=100)
    return {e.record.id: e.record.status for e in page.items if type(e.record).__name__ == "Claim"}


def test_cancelling_ends_the_live_claims_and_keeps_the_pending_work(api, workers, clock, client_acct):
    key = client_acct["api_key"]
    holder, author = api.account("freelancer"), api.account("freelancer")
    bounty = api.bounty(key, slots=3, reward={"amount": 1000, "currency": "usd"}, deadline=_at(clock, 30 * 86400))
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=holder["api_key"], status=201)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "Done."}, key=author["api_key"],
                 status=201)

    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    _tick(clock, workers)

    assert _claims(api, holder["api_key"]) == {claim["id"]: "lapsed"}
    assert _listed_in_my_work(holder["id"]) == {claim["id"]: "lapsed"}
    code, body = api.post(f"/v1/claims/{claim['id']}/release", key=holder["api_key"])
    assert (code, body["error"]["code"]) == (409, "claim_not_live")
    code, body = api.post(f"/v1/bounties/{bounty['id']}/submissions", {"content": "Late."}, key=holder["api_key"])
    assert (code, body["error"]["code"]) == (409, "bounty_not_open")

    # The claim's slot and the free one were refunded at the cancel; the pending work is still reviewed and paid.
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals["refunded"] == 2 * 1000 + 200 and totals["held"] == 1000 + 100
    assert api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=key)["status"] == "approved"
    assert timers.fire(deps(), END_CLAIMS, bounty["id"]) == "unchanged"  # a repeated message changes nothing


def test_a_claim_released_before_the_timer_runs_stays_released(api, workers, clock, client_acct, freelancer):
    key, fkey = client_acct["api_key"], freelancer["api_key"]
    bounty = api.bounty(key, slots=2)
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=fkey, status=201)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    api.ok("POST", f"/v1/claims/{claim['id']}/release", key=fkey)
    _tick(clock, workers)
    assert _claims(api, fkey) == {claim["id"]: "released"}


def test_a_bounty_cancelled_with_no_claims_files_no_timer(api, workers, clock, client_acct):
    bounty = api.bounty(client_acct["api_key"])
    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=client_acct["api_key"])
    clock.advance(1)
    workers.sweep()
    assert workers.run_once() == 1  # the refund's message alone, no timers message


def test_more_claims_than_one_message_ends_go_on_in_another(api, workers, clock, client_acct, monkeypatch):
    monkeypatch.setattr(work, "CLAIMS_ENDED_PER_MESSAGE", 3)
    monkeypatch.setattr(work, "CLAIMS_ENDED_PER_WRITE", 2)
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=7)
    holders = [api.account("freelancer") for _ in range(7)]
    for holder in holders:
        api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=holder["api_key"], status=201)

    api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    failed_before = workers.runner.failed_deliveries
    _tick(clock, workers)
    for holder in holders:
        assert set(_claims(api, holder["api_key"]).values()) == {"lapsed"}
    assert deps().repo.list_live_claims(bounty["id"], limit=10) == []
    # Each batch went on in a message of its own, not in retries of one that failed: the timers worker may send
    # to its own queue (a send its role refused would end a batch per retry, then land in the DLQ).
    assert workers.runner.failed_deliveries == failed_before


def test_the_upgrade_step_ends_claims_an_earlier_release_left_live_on_cancelled_bounties(
        api, workers, clock, client_acct):
    from chalicelib import config
    from chalicelib.adapters import dynamo_models as m
    from chalicelib.adapters.dynamo_upgrades import end_cancelled_claims
    from chalicelib.core.timers import shard_of

    key = client_acct["api_key"]
    holder = api.account("freelancer")
    cancelled, still_open = api.bounty(key, slots=2), api.bounty(key, slots=2)
    ended = api.ok("POST", f"/v1/bounties/{cancelled['id']}/claims", key=holder["api_key"], status=201)
    kept = api.ok("POST", f"/v1/bounties/{still_open['id']}/claims", key=holder["api_key"], status=201)
    api.ok("POST", f"/v1/bounties/{cancelled['id']}/cancel", key=key)
    # As an earlier release cancelled: without the timer that ends the claims.
    shard = shard_of(cancelled["id"], config.timer_shards())
    timers_filed = [t for t in m.TimerModel.query(shard) if (t.kind, t.ref_id) == (END_CLAIMS, cancelled["id"])]
    assert len(timers_filed) == 1
    timers_filed[0].delete()
    _tick(clock, workers)
    assert _claims(api, holder["api_key"]) == {ended["id"]: "live", kept["id"]: "live"}

    assert local_iam.as_operator(end_cancelled_claims)(clock.now()) >= 1
    _tick(clock, workers)
    assert _claims(api, holder["api_key"]) == {ended["id"]: "lapsed", kept["id"]: "live"}
    with local_iam.running(local_iam.OPERATOR):  # a Scan: the test's look, not a function's
        assert cancelled["id"] not in {c.bounty_id for c in m.ClaimModel.scan(m.ClaimModel.status == "live")}


def test_an_expired_bountys_claims_end_in_their_records_too(api, workers, clock, client_acct, freelancer):
    key, fkey = client_acct["api_key"], freelancer["api_key"]
    bounty = api.bounty(key, slots=2, deadline=_at(clock, 120))
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=fkey, status=201)
    _tick(clock, workers, 121)  # the bounty expires, and files the timer that ends its claims
    _tick(clock, workers)
    stored = deps().repo.get_claim(claim["id"])
    assert (stored.status, stored.ended_at) == ("lapsed", stored.expires_at)
    assert deps().repo.get_participant(bounty["id"], freelancer["id"]).live_claim_id is None
    assert _claims(api, fkey) == {claim["id"]: "lapsed"}
    assert deps().repo.list_live_claims(bounty["id"], limit=10) == []
