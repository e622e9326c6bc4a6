"""Threads race through the use cases against DynamoDB on moto: conditional writes pick one winner."""

from concurrent.futures import ThreadPoolExecutor

from chalicelib.bootstrap import deps
from chalicelib.core import errors
from chalicelib.services import work
from chalicelib.services.deps import Caller


def _caller(account: dict) -> Caller:
    return Caller(account_id=account["id"], role=account["role"], key_id="test")


def _race(functions):
    def attempt(fn):
        try:
            return ("won", fn())
        except errors.DomainError as error:
            return ("lost", error.code)

    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        return list(pool.map(attempt, functions))


def test_many_freelancers_race_for_the_last_slot(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], slots=2)
    freelancers = [api.account("freelancer") for _ in range(10)]
    outcomes = _race([lambda f=f: work.claim_bounty(deps(), _caller(f), bounty["id"]) for f in freelancers])
    assert [o[0] for o in outcomes].count("won") == 2
    assert {o[1] for o in outcomes if o[0] == "lost"} == {"no_slots_left"}
    stored = deps().repo.get_bounty(bounty["id"])
    assert (stored.free_slots, stored.claimed_slots) == (0, 2)


def test_one_freelancer_double_submitting_gets_one_submission(api, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], slots=5)
    me = _caller(freelancer)
    outcomes = _race([lambda: work.submit_work(deps(), me, bounty["id"], content="x", links=[])] * 6)
    assert [o[0] for o in outcomes].count("won") == 1
    assert deps().repo.get_bounty(bounty["id"]).pending_slots == 1


def test_racing_approvals_queue_one_payout(api, client_acct, freelancer, open_bounty):
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    owner = _caller(client_acct)
    outcomes = _race([lambda: work.approve_submission(deps(), owner, sub["id"], rating=4, feedback=None)] * 6)
    assert [o[0] for o in outcomes].count("won") == 1
    assert len(api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]) == 1
    assert api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["completed"] == 1


def test_approve_racing_reject_ends_approved_with_one_payout(api, client_acct, freelancer, open_bounty):
    """A rejection may win first, but an approval then overturns it (API.md); never two payouts."""
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    owner = _caller(client_acct)
    approve = lambda: ("approve", work.approve_submission(deps(), owner, sub["id"], rating=None, feedback=None))  # noqa: E731
    reject = lambda: ("reject", work.reject_submission(deps(), owner, sub["id"], reason="no"))  # noqa: E731
    outcomes = _race([approve, reject] * 3)
    won = [o[1][0] for o in outcomes if o[0] == "won"]
    assert won.count("approve") == 1 and won.count("reject") <= 1
    assert api.ok("GET", f"/v1/submissions/{sub['id']}", key=freelancer["api_key"])["status"] == "approved"
    assert len(api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]) == 1
    stored = deps().repo.get_bounty(open_bounty["id"])
    assert (stored.pending_slots, stored.approved_slots) == (0, 1)
