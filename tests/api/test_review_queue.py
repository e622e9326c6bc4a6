"""A client's review queue (`GET /v1/submissions` as a client): the work handed in to their bounties that still
awaits their decision, soonest auto-approval first, read from a sparse index of pending submissions alone."""

from __future__ import annotations

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import index_reviews as _index_reviews
from devtools import local_iam

from .reads import ReadCounter

index_reviews = local_iam.as_operator(_index_reviews)


def _queue(api, key: str, limit: int = 100) -> list[str]:
    return [s["id"] for s in api.ok("GET", f"/v1/submissions?limit={limit}", key=key)["items"]]


def _submit(api, bounty_id: str) -> dict:
    worker = api.account("freelancer")
    return api.ok("POST", f"/v1/bounties/{bounty_id}/submissions", {"content": "done"}, status=201,
                  key=worker["api_key"])


def test_the_queue_holds_pending_work_on_the_clients_own_bounties_soonest_auto_approval_first(
        api, workers, client_acct):
    key = client_acct["api_key"]
    slow = api.bounty(key, slots=2, review_window_seconds=7200)
    fast = api.bounty(key, slots=2, review_window_seconds=600)
    first_slow, first_fast = _submit(api, slow["id"]), _submit(api, fast["id"])
    second_slow, second_fast = _submit(api, slow["id"]), _submit(api, fast["id"])
    others = api.account("client")
    _submit(api, api.bounty(others["api_key"])["id"])  # someone else's bounty

    queue = api.ok("GET", "/v1/submissions?limit=100", key=key)["items"]
    assert [s["id"] for s in queue] == [first_fast["id"], second_fast["id"], first_slow["id"], second_slow["id"]]
    assert [s["auto_approve_at"] for s in queue] == sorted(s["auto_approve_at"] for s in queue)
    assert {s["status"] for s in queue} == {"pending_review"} and queue[0]["content"] == "done"

    # A decision takes the work off the queue, whichever it is; a rejection overturned does not put it back.
    api.ok("POST", f"/v1/submissions/{first_fast['id']}/approve", {}, key=key)
    api.ok("POST", f"/v1/submissions/{second_slow['id']}/reject", {"reason": "blurry"}, key=key)
    assert _queue(api, key) == [second_fast["id"], first_slow["id"]]
    api.ok("POST", f"/v1/submissions/{second_slow['id']}/approve", {}, key=key)
    assert _queue(api, key) == [second_fast["id"], first_slow["id"]]
    workers.drain()


def test_the_queue_pages_with_a_cursor_and_reads_only_what_awaits_review(api, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=7)
    submitted = [_submit(api, bounty["id"])["id"] for _ in range(7)]
    for decided in submitted[:2]:
        api.ok("POST", f"/v1/submissions/{decided}/reject", {"reason": "no"}, key=key)

    seen, cursor = [], None
    while True:
        page = api.ok("GET", "/v1/submissions?limit=2" + (f"&cursor={cursor}" if cursor else ""), key=key)
        assert len(page["items"]) <= 2
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == submitted[2:]

    with ReadCounter(m.SubmissionModel._get_connection().connection.client) as reads:
        assert _queue(api, key) == submitted[2:]
    assert reads.calls == ["Query"] and reads.items_read == 5  # none of the decided ones

    code, body = api.get(f"/v1/submissions?cursor={cursor or 'bogus'}", key=key)
    assert code == 422 and body["error"]["code"] == "invalid_cursor", body


def test_auto_approval_takes_work_off_the_queue(api, workers, clock, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, review_window_seconds=60)
    submission = _submit(api, bounty["id"])
    assert _queue(api, key) == [submission["id"]]
    clock.advance(61)
    workers.sweep()
    workers.drain()
    assert _queue(api, key) == []


def test_a_freelancer_still_gets_their_own_submissions(api, client_acct, freelancer):
    bounty = api.bounty(client_acct["api_key"])
    mine = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "x"}, status=201,
                  key=freelancer["api_key"])
    assert _queue(api, freelancer["api_key"]) == [mine["id"]]


def test_work_handed_in_before_the_queue_existed_is_put_into_it_once(api, workers, client_acct):
    """An upgrade from a release without the index: `python -m ops index-reviews` gives the submissions still
    awaiting review their bounty's owner (a Scan, for an operator); running it again changes nothing."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=3)
    pending, decided = _submit(api, bounty["id"]), _submit(api, bounty["id"])
    api.ok("POST", f"/v1/submissions/{decided['id']}/reject", {"reason": "no"}, key=key)
    for submission_id in (pending["id"], decided["id"]):  # as an earlier release stored them
        item = m.SubmissionModel.get(submission_id)
        item.update([m.SubmissionModel.client_id.remove(), m.SubmissionModel.review_client.remove(),
                     m.SubmissionModel.review_due.remove()])
    assert _queue(api, key) == []

    assert index_reviews() == 1
    assert _queue(api, key) == [pending["id"]]
    assert m.SubmissionModel.get(decided["id"]).client_id is None  # decided: nothing to review
    assert index_reviews() == 0
    # The upgraded submission is decided like any other, and leaves the queue.
    api.ok("POST", f"/v1/submissions/{pending['id']}/approve", {}, key=key)
    assert _queue(api, key) == []
    workers.drain()


def test_a_bounty_s_submissions_filter_by_status(api, workers, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, slots=3)
    approved, rejected, pending = (_submit(api, bounty["id"])["id"] for _ in range(3))
    api.ok("POST", f"/v1/submissions/{approved}/approve", {}, key=key)
    api.ok("POST", f"/v1/submissions/{rejected}/reject", {"reason": "no"}, key=key)
    path = f"/v1/bounties/{bounty['id']}/submissions"
    for status, expected in (("approved", [approved]), ("rejected", [rejected]), ("pending_review", [pending])):
        assert [s["id"] for s in api.ok("GET", f"{path}?status={status}", key=key)["items"]] == expected, status
    assert len(api.ok("GET", path, key=key)["items"]) == 3
    code, body = api.get(f"{path}?status=done", key=key)
    assert (code, body["error"]["code"]) == (422, "invalid_status"), body
    assert "pending_review" in body["error"]["message"]
    workers.drain()
