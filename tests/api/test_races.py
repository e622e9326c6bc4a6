"""Threads race through the use cases against DynamoDB on moto: conditional writes pick one winner."""


from chalicelib.bootstrap import deps
from chalicelib.services import accounts, work
from chalicelib.services import deps as service_deps
from chalicelib.services.deps import Caller
from tests.api.racing import caller, race


def test_many_freelancers_race_for_the_last_slot(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], slots=2)
    freelancers = [api.account("freelancer") for _ in range(10)]
    outcomes = race(*[lambda f=f: work.claim_bounty(deps(), caller(f), bounty["id"]) for f in freelancers])
    assert [o[0] for o in outcomes].count("won") == 2
    assert {o[1] for o in outcomes if o[0] == "lost"} == {"no_slots_left"}
    stored = deps().repo.get_bounty(bounty["id"])
    assert (stored.free_slots, stored.claimed_slots) == (0, 2)


def test_as_many_freelancers_as_slots_claiming_at_once_all_get_one(api, client_acct, monkeypatch):
    """Every claim writes the bounty, so all but one of each round lose the race and read again; they back off at
    random and each gets its turn (immediate retries collided again: 12 of 30 were told `concurrent_update`).
    The thirty turns take a machine-dependent time, so the retries' time budget is not what is tested here: on a
    loaded machine, 2.5 s ran out for some."""
    monkeypatch.setattr(service_deps, "RETRY_SECONDS", 60)
    bounty = api.bounty(client_acct["api_key"], slots=30)
    freelancers = [api.account("freelancer") for _ in range(30)]
    outcomes = race(*[lambda f=f: work.claim_bounty(deps(), caller(f), bounty["id"]) for f in freelancers])
    assert [o for o in outcomes if o[0] == "lost"] == []
    stored = deps().repo.get_bounty(bounty["id"])
    assert (stored.free_slots, stored.claimed_slots) == (0, 30)


def test_one_freelancer_double_submitting_gets_one_submission(api, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], slots=5)
    me = caller(freelancer)
    outcomes = race(*[lambda: work.submit_work(deps(), me, bounty["id"], content="x", links=[])] * 6)
    assert [o[0] for o in outcomes].count("won") == 1
    assert deps().repo.get_bounty(bounty["id"]).pending_slots == 1


def test_racing_approvals_queue_one_payout(api, client_acct, freelancer, open_bounty):
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    owner = caller(client_acct)
    outcomes = race(*[lambda: work.approve_submission(deps(), owner, sub["id"], rating=4, feedback=None)] * 6)
    assert [o[0] for o in outcomes].count("won") == 1
    assert len(api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]) == 1
    assert api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["completed"] == 1


def test_approve_racing_reject_ends_approved_with_one_payout(api, client_acct, freelancer, open_bounty):
    """A rejection may win first, but an approval then overturns it (API.md); never two payouts."""
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    owner = caller(client_acct)
    approve = lambda: ("approve", work.approve_submission(deps(), owner, sub["id"], rating=None, feedback=None))  # noqa: E731
    reject = lambda: ("reject", work.reject_submission(deps(), owner, sub["id"], reason="no"))  # noqa: E731
    outcomes = race(*[approve, reject] * 3)
    won = [o[1][0] for o in outcomes if o[0] == "won"]
    assert won.count("approve") == 1 and won.count("reject") <= 1
    assert api.ok("GET", f"/v1/submissions/{sub['id']}", key=freelancer["api_key"])["status"] == "approved"
    assert len(api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]) == 1
    stored = deps().repo.get_bounty(open_bounty["id"])
    assert (stored.pending_slots, stored.approved_slots) == (0, 1)


def _two_keys(api) -> tuple[dict, list[dict]]:
    """An account with two live keys: [(id, api_key)] as dicts."""
    account = api.account("client")
    [first] = api.ok("GET", "/v1/accounts/me/keys", key=account["api_key"])["items"]
    second = api.ok("POST", "/v1/accounts/me/keys", key=account["api_key"], status=201)
    return account, [{"id": first["id"], "api_key": account["api_key"]}, second]


def _live_keys(account: dict) -> list:
    return [k for k in deps().repo.list_api_keys(account["id"]) if not k.revoked]


def test_two_keys_revoking_themselves_at_once_leave_one_live(api):
    account, keys = _two_keys(api)
    def revoke_itself(key: dict):
        return accounts.revoke_key(deps(), Caller(account_id=account["id"], role="client", key_id=key["id"]),
                                   key["id"])

    outcomes = race(*[lambda k=k: revoke_itself(k) for k in keys])
    assert sorted(o[0] for o in outcomes) == ["lost", "won"], outcomes
    assert [o[1] for o in outcomes if o[0] == "lost"] == ["last_key"]
    assert len(_live_keys(account)) == 1


def test_a_revocation_decided_on_a_stale_listing_still_keeps_a_live_key(api, monkeypatch):
    """The key listing is a query of an index, which may lag behind a revocation that just happened."""
    account, (first, second) = _two_keys(api)
    stale = deps().repo.list_api_keys(account["id"])  # both live
    api.ok("DELETE", f"/v1/accounts/me/keys/{second['id']}", key=first["api_key"])
    monkeypatch.setattr(deps().repo, "list_api_keys", lambda account_id, *args, **kwargs: stale)
    code, data = api.call("DELETE", f"/v1/accounts/me/keys/{first['id']}", key=first["api_key"])
    assert code == 409 and data["error"]["code"] == "last_key", data
    monkeypatch.undo()
    assert [k.key_id for k in _live_keys(account)] == [first["id"]]
    assert api.ok("GET", "/v1/accounts/me", key=first["api_key"])["id"] == account["id"]
