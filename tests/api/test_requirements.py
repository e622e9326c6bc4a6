"""Who may work on a bounty (an extension of API.md, as MTurk's qualifications): a client asks for a freelancer's
mean rating and approved tasks; a freelancer short of them gets 403 not_qualified on claiming or handing work in,
and qualifies as their approved, rated work grows."""

from datetime import UTC, datetime, timedelta

RATING_AND_TASKS = {"min_rating": 4.5, "min_completed": 1}


def _approved(api, client_key: str, freelancer: dict, rating: int) -> None:
    """One task done by the freelancer on a bounty of its own, approved with this rating."""
    bounty = api.bounty(client_key)
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                 key=freelancer["api_key"])
    api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {"rating": rating}, key=client_key)


def test_a_freelancer_short_of_the_requirements_can_neither_claim_nor_hand_work_in(api, workers, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=2, requirements=RATING_AND_TASKS)
    assert bounty["requirements"] == {"min_rating": 4.5, "min_completed": 1}
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["requirements"] == bounty["requirements"]
    newcomer = api.account("freelancer")
    for path, body in ((f"/v1/bounties/{bounty['id']}/claims", None),
                       (f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"})):
        code, answer = api.call("POST", path, body, key=newcomer["api_key"])
        assert (code, answer["error"]["code"]) == (403, "not_qualified"), answer
        assert "a mean rating of at least 4.5 (yours: none yet)" in answer["error"]["message"]
    _approved(api, key, newcomer, rating=4)  # one task, rated 4: short of the rating still
    code, answer = api.call("POST", f"/v1/bounties/{bounty['id']}/claims", key=newcomer["api_key"])
    assert (code, answer["error"]["code"]) == (403, "not_qualified")
    assert "(yours: 4.00 from 1)" in answer["error"]["message"] and "approved tasks" not in answer["error"]["message"]
    _approved(api, key, newcomer, rating=5)  # 9 stars over 2 ratings: 4.5 exactly
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=newcomer["api_key"])
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 1
    workers.drain()


def test_requirements_are_checked_as_posted(api, client_acct):
    key = client_acct["api_key"]
    assert api.bounty(key)["requirements"] is None  # none asked: anyone
    for wrong in ({"min_rating": 0.5}, {"min_rating": 5.1}, {"min_completed": 0}, {"min_completed": "3"},
                  {"min_stars": 4}):
        deadline = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        code, answer = api.call("POST", "/v1/bounties", {
            "title": "t", "description": "d", "reward": {"amount": 500}, "requirements": wrong,
            "deadline": deadline}, key=key)
        assert code == 422, (wrong, answer)


def test_work_claimed_while_qualified_may_be_handed_in_after_the_rating_falls(api, workers, client_acct):
    """The claim is where the requirements are met: a rating given meanwhile on another bounty does not take
    away the slot the freelancer holds, nor refuse the work it was held for (nor is a second claim a 403)."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, requirements={"min_rating": 4.5})
    freelancer = api.account("freelancer")
    _approved(api, key, freelancer, rating=5)
    api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=freelancer["api_key"])
    _approved(api, key, freelancer, rating=1)  # elsewhere: a mean of 3 now
    code, answer = api.call("POST", f"/v1/bounties/{bounty['id']}/claims", key=freelancer["api_key"])
    assert (code, answer["error"]["code"]) == (409, "already_claimed"), answer
    api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
           key=freelancer["api_key"])
    workers.drain()
