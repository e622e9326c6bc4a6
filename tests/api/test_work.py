import pytest


def test_claim_submit_approve_queues_a_payout(api, client_acct, freelancer, open_bounty):
    fkey, ckey = freelancer["api_key"], client_acct["api_key"]
    claim = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/claims", status=201, key=fkey)
    assert claim["id"].startswith("clm_") and claim["expires_at"].endswith("Z")
    assert api.ok("GET", f"/v1/bounties/{open_bounty['id']}")["slots_left"] == 0
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions",
                 {"content": "Done: see link", "links": ["https://example.com/work"]}, status=201, key=fkey)
    assert sub["status"] == "pending_review" and sub["claim_id"] == claim["id"]
    assert sub["auto_approve_at"] > sub["created_at"]
    listed = api.ok("GET", f"/v1/bounties/{open_bounty['id']}/submissions", key=ckey)
    assert [s["id"] for s in listed["items"]] == [sub["id"]]
    approved = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {"rating": 5, "feedback": "Great"}, key=ckey)
    assert approved["status"] == "approved" and approved["rating"] == 5 and approved["auto_approved"] is False
    payouts = api.ok("GET", "/v1/payouts", key=fkey)["items"]
    assert [(p["submission_id"], p["status"], p["amount"]["amount"]) for p in payouts] == [(sub["id"], "queued", 500)]
    assert payouts[0]["id"] == approved["payout_id"]
    bounty = api.ok("GET", f"/v1/bounties/{open_bounty['id']}", key=ckey)
    assert bounty["status"] == "completed"
    me = api.ok("GET", "/v1/accounts/me", key=fkey)
    assert me["completed"] == 1 and me["rating"] == {"mean": 5.0, "count": 1}
    code, data = api.post(f"/v1/submissions/{sub['id']}/approve", key=ckey)
    assert code == 409 and data["error"]["code"] == "submission_not_pending"


def test_submit_without_claim_takes_a_slot_and_one_open_submission_each(api, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], slots=2)
    fkey = freelancer["api_key"]
    api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "v1"}, status=201, key=fkey)
    code, data = api.post(f"/v1/bounties/{bounty['id']}/submissions", {"content": "v2"}, key=fkey)
    assert code == 409 and data["error"]["code"] == "already_submitted"
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["slots_left"] == 1


def test_no_slots_left(api, client_acct, freelancer, open_bounty):
    api.ok("POST", f"/v1/bounties/{open_bounty['id']}/claims", status=201, key=freelancer["api_key"])
    other = api.account("freelancer")
    code, data = api.post(f"/v1/bounties/{open_bounty['id']}/claims", key=other["api_key"])
    assert code == 409 and data["error"]["code"] == "no_slots_left"
    code, data = api.post(f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, key=other["api_key"])
    assert code == 409 and data["error"]["code"] == "no_slots_left"


def test_release_gives_the_slot_back(api, freelancer, open_bounty):
    fkey = freelancer["api_key"]
    claim = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/claims", status=201, key=fkey)
    code, data = api.post(f"/v1/bounties/{open_bounty['id']}/claims", key=fkey)
    assert code == 409 and data["error"]["code"] == "already_claimed"
    other = api.account("freelancer")
    code, _ = api.post(f"/v1/claims/{claim['id']}/release", key=other["api_key"])
    assert code == 404
    released = api.ok("POST", f"/v1/claims/{claim['id']}/release", key=fkey)
    assert released["status"] == "released"
    assert api.ok("GET", f"/v1/bounties/{open_bounty['id']}")["slots_left"] == 1
    code, data = api.post(f"/v1/claims/{claim['id']}/release", key=fkey)
    assert code == 409 and data["error"]["code"] == "claim_not_live"
    mine = api.ok("GET", "/v1/claims", key=fkey)
    assert [c["status"] for c in mine["items"]] == ["released"]


def test_claim_required_when_claim_seconds_set(api, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"], claim_seconds=600)
    code, data = api.post(f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, key=freelancer["api_key"])
    assert code == 409 and data["error"]["code"] == "claim_required"
    claim = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", status=201, key=freelancer["api_key"])
    assert claim["expires_at"] < bounty["deadline"]
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    assert sub["claim_id"] == claim["id"]


def test_reject_reopens_the_slot_and_can_be_overturned(api, client_acct, freelancer, open_bounty):
    fkey, ckey = freelancer["api_key"], client_acct["api_key"]
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201, key=fkey)
    code, data = api.post(f"/v1/submissions/{sub['id']}/reject", {}, key=ckey)
    assert code == 422
    rejected = api.ok("POST", f"/v1/submissions/{sub['id']}/reject", {"reason": "Wrong format"}, key=ckey)
    assert rejected["status"] == "rejected" and rejected["rejection_reason"] == "Wrong format"
    assert api.ok("GET", f"/v1/bounties/{open_bounty['id']}")["slots_left"] == 1
    seen_by_author = api.ok("GET", f"/v1/submissions/{sub['id']}", key=fkey)
    assert seen_by_author["rejection_reason"] == "Wrong format"
    overturned = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=ckey)
    assert overturned["status"] == "approved"
    assert api.ok("GET", f"/v1/bounties/{open_bounty['id']}", key=ckey)["status"] == "completed"


def test_submissions_are_private_to_owner_and_author(api, client_acct, freelancer, open_bounty):
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "secret"}, status=201,
                 key=freelancer["api_key"])
    for stranger in (api.account("freelancer"), api.account("client")):
        code, data = api.get(f"/v1/submissions/{sub['id']}", key=stranger["api_key"])
        assert code == 404 and "secret" not in str(data)
    other_client = api.account("client")
    for action, body in (("approve", {}), ("reject", {"reason": "no"})):
        code, _ = api.post(f"/v1/submissions/{sub['id']}/{action}", body, key=other_client["api_key"])
        assert code == 404
    code, _ = api.post(f"/v1/submissions/{sub['id']}/approve", {}, key=freelancer["api_key"])
    assert code == 403
    assert api.ok("GET", f"/v1/submissions/{sub['id']}", key=client_acct["api_key"])["content"] == "secret"


def test_submission_validation(api, freelancer, open_bounty):
    path = f"/v1/bounties/{open_bounty['id']}/submissions"
    for body in ({}, {"content": ""}, {"content": "x", "links": ["ftp://x"]}, {"content": "x", "links": "https://a"},
                 {"content": "x", "extra": 1}, {"content": "x" * 20_001}):
        code, data = api.post(path, body, key=freelancer["api_key"])
        assert code == 422, body


def test_client_cannot_claim_and_rating_is_checked(api, client_acct, freelancer, open_bounty):
    code, data = api.post(f"/v1/bounties/{open_bounty['id']}/claims", key=client_acct["api_key"])
    assert code == 403
    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    code, _ = api.post(f"/v1/submissions/{sub['id']}/approve", {"rating": 6}, key=client_acct["api_key"])
    assert code == 422


def test_messages_between_owner_and_participants(api, client_acct, freelancer, open_bounty):
    path = f"/v1/bounties/{open_bounty['id']}/messages"
    code, _ = api.post(path, {"body": "hi"}, key=freelancer["api_key"])
    assert code == 404  # has not claimed or submitted yet
    api.ok("POST", f"/v1/bounties/{open_bounty['id']}/claims", status=201, key=freelancer["api_key"])
    api.ok("POST", path, {"body": "Which format?"}, status=201, key=freelancer["api_key"])
    api.ok("POST", path, {"body": "<b>PNG</b> please"}, status=201, key=client_acct["api_key"])
    thread = api.ok("GET", path, key=freelancer["api_key"])
    assert [(m["author_role"], m["body"]) for m in thread["items"]] == [
        ("freelancer", "Which format?"), ("client", "<b>PNG</b> please")]
    first = api.ok("GET", path + "?limit=1", key=client_acct["api_key"])
    rest = api.ok("GET", path + f"?limit=1&cursor={first['next_cursor']}", key=client_acct["api_key"])
    assert rest["items"][0]["body"] == "<b>PNG</b> please"
    stranger = api.account("freelancer")
    code, _ = api.get(path, key=stranger["api_key"])
    assert code == 404
    code, _ = api.post(path, {"body": ""}, key=client_acct["api_key"])
    assert code == 422


def test_payouts_are_for_freelancers_only(api, client_acct):
    code, data = api.get("/v1/payouts", key=client_acct["api_key"])
    assert code == 403


def test_a_freelancer_reads_one_of_their_payouts_and_no_one_elses(api, client_acct, freelancer, open_bounty):
    from chalicelib.bootstrap import deps
    from chalicelib.core import errors
    from chalicelib.services import work
    from tests.api.racing import caller

    sub = api.ok("POST", f"/v1/bounties/{open_bounty['id']}/submissions", {"content": "x"}, status=201,
                 key=freelancer["api_key"])
    approved = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])
    payout = work.get_my_payout(deps(), caller(freelancer), approved["payout_id"])
    assert (payout.submission_id, payout.amount) == (sub["id"], 500)
    for who, payout_id, error in ((api.account("freelancer"), approved["payout_id"], errors.NotFound),
                                  (freelancer, "pay_unknown", errors.NotFound),
                                  (client_acct, approved["payout_id"], errors.Forbidden)):
        with pytest.raises(error):
            work.get_my_payout(deps(), caller(who), payout_id)
