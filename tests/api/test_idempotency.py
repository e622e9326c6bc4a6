import contextlib
import uuid

from devtools import local_iam


def test_same_key_same_body_replays_first_response(api, client_acct):
    key = client_acct["api_key"]
    body = {"title": "Idempotent", "description": "d", "reward": {"amount": 700, "currency": "usd"},
            "deadline": "2099-01-01T00:00:00Z"}
    # A deadline this far out is refused; the refusal itself is replayed too.
    first = api.call("POST", "/v1/bounties", body, key=key, headers={"Idempotency-Key": "k-refused"})
    again = api.call("POST", "/v1/bounties", body, key=key, headers={"Idempotency-Key": "k-refused"})
    assert first == again and first[0] == 422

    from datetime import UTC, datetime, timedelta
    body["deadline"] = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body["payment_method"] = "pm_card_visa"
    first = api.call("POST", "/v1/bounties", body, key=key, headers={"Idempotency-Key": "k-1"})
    again = api.call("POST", "/v1/bounties", dict(reversed(list(body.items()))), key=key,
                     headers={"Idempotency-Key": "k-1"})
    assert first[0] == 201 and again == first
    mine = api.ok("GET", "/v1/bounties?mine=true&limit=100", key=key)
    assert [b["id"] for b in mine["items"]].count(first[1]["id"]) == 1
    assert len(mine["items"]) == 1


def _deadline() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


# One deadline for the whole module: a body built twice must be the same request, whatever second it is built in
# (one made a second later was another body, and its replay a 409).
DEADLINE = _deadline()


def _body(title):
    return {"title": title, "description": "d", "reward": {"amount": 700, "currency": "usd"}, "deadline": DEADLINE}


def test_same_key_other_body_is_409(api, client_acct):
    key = client_acct["api_key"]
    first = api.post("/v1/bounties", _body("a"), key=key, headers={"Idempotency-Key": "reuse"})
    assert first[0] == 201
    code, data = api.post("/v1/bounties", _body("b"), key=key, headers={"Idempotency-Key": "reuse"})
    assert code == 409 and data["error"]["code"] == "idempotency_key_reused"
    code, data = api.post(f"/v1/bounties/{first[1]['id']}/cancel", key=key, headers={"Idempotency-Key": "reuse"})
    assert code == 409 and data["error"]["code"] == "idempotency_key_reused"


def test_a_key_used_already_refuses_another_body_even_one_refused_before_it_is_read(api, client_acct):
    """Bodies refused before anything is read (422 shape, 400 JSON) still name another request: 409, as API.md
    says for the same key with another body; the first request's answer is kept, and given again."""
    key = client_acct["api_key"]
    headers = {"Idempotency-Key": "first-valid"}
    first = api.post("/v1/bounties", _body("valid"), key=key, headers=headers)
    assert first[0] == 201
    for other in ({**_body("valid"), "slots": 0}, {**_body("valid"), "surprise": 1}):
        code, data = api.post("/v1/bounties", other, key=key, headers=headers)
        assert (code, data["error"]["code"]) == (409, "idempotency_key_reused"), other
    code, data = api.call("POST", "/v1/bounties", raw="{", key=key, headers=headers)
    assert (code, data["error"]["code"]) == (409, "idempotency_key_reused")
    assert api.post("/v1/bounties", _body("valid"), key=key, headers=headers) == first

    cancel = api.post(f"/v1/bounties/{first[1]['id']}/cancel", key=key, headers={"Idempotency-Key": "cancel"})
    assert cancel[0] == 200
    code, data = api.post(f"/v1/bounties/{first[1]['id']}/cancel", {"x": 1}, key=key,
                          headers={"Idempotency-Key": "cancel"})
    assert (code, data["error"]["code"]) == (409, "idempotency_key_reused")


def test_keys_are_scoped_to_the_caller(api, client_acct):
    other = api.account("client")
    a = api.post("/v1/bounties", _body("same"), key=client_acct["api_key"], headers={"Idempotency-Key": "shared"})
    b = api.post("/v1/bounties", _body("same"), key=other["api_key"], headers={"Idempotency-Key": "shared"})
    assert a[0] == b[0] == 201 and a[1]["id"] != b[1]["id"]
    assert b[1]["client_id"] == other["id"]


def test_anonymous_account_creation_accepts_a_key(api):
    body = {"role": "freelancer", "name": "n", "email": "n@example.com"}
    first = api.post("/v1/accounts", body, headers={"Idempotency-Key": "signup-7f3a9c"})
    again = api.post("/v1/accounts", body, headers={"Idempotency-Key": "signup-7f3a9c"})
    assert first[0] == 201 and again == first


def test_a_stored_first_response_holds_no_api_key_in_the_clear(api):
    from chalicelib.adapters import dynamo_models as m

    key = f"signup-{uuid.uuid4()}"
    body = {"role": "client", "name": "Sealed", "email": "sealed@example.com"}
    first = api.ok("POST", "/v1/accounts", body, status=201, headers={"Idempotency-Key": key})
    with local_iam.running(local_iam.OPERATOR):  # a Scan: the test's look into the table, not a function's
        stored = [item.body for item in m.IdempotencyModel.scan() if item.key.endswith(key)]
    assert stored and all(first["api_key"] not in (text or "") for text in stored)
    assert api.ok("POST", "/v1/accounts", body, status=201, headers={"Idempotency-Key": key}) == first


@contextlib.contextmanager
def _repo_calls():
    """The repository calls made inside, by name, in order (each still made: this only counts them)."""
    from chalicelib.bootstrap import deps

    repo, calls = deps().repo, []
    names = ("get_many", "commit", "get_idempotency", "get_api_key", "delete")
    for name in names:
        original = getattr(repo, name)
        setattr(repo, name, lambda *a, _name=name, _original=original, **kw: calls.append(_name)
                or _original(*a, **kw))
    try:
        yield calls
    finally:
        for name in names:
            delattr(repo, name)


def _sent_at_once(send, times: int):
    """`send` run `times` times at once: every answer is the first one again or "still in progress"; returns it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=times) as pool:
        answers = list(pool.map(send, range(times)))
    created = [answer for answer in answers if answer[0] == 201]
    assert created and all(answer == created[0] for answer in created), answers
    assert all(answer[0] == 201 or answer[1]["error"]["code"] == "idempotency_key_in_use" for answer in answers)
    return created[0]


def test_one_key_sent_many_times_at_once_acts_once(api, client_acct, freelancer):
    """The key's record is taken by the request's own first write: duplicates racing it get the first answer, or
    are told it is still being worked on, and nothing happens twice."""
    bounty_id = api.bounty(client_acct["api_key"], slots=3)["id"]

    def claim(_):
        return api.call("POST", f"/v1/bounties/{bounty_id}/claims", {}, key=freelancer["api_key"],
                        headers={"Idempotency-Key": "race-claim"})

    first = _sent_at_once(claim, 6)
    claims = api.ok("GET", "/v1/claims?limit=100", key=freelancer["api_key"])["items"]
    assert [c["id"] for c in claims if c["bounty_id"] == bounty_id] == [first[1]["id"]]
    assert claim(0) == first
    assert api.ok("GET", f"/v1/bounties/{bounty_id}")["slots_left"] == 2


def test_one_key_posting_a_bounty_many_times_at_once_charges_once(api, client_acct):
    body = _body("racing") | {"payment_method": "pm_card_visa"}

    def post(_):
        return api.call("POST", "/v1/bounties", body, key=client_acct["api_key"],
                        headers={"Idempotency-Key": "race-post"})

    first = _sent_at_once(post, 4)
    mine = api.ok("GET", "/v1/bounties?mine=true&limit=100", key=client_acct["api_key"])["items"]
    assert [b["id"] for b in mine] == [first[1]["id"]]


def test_the_key_costs_no_call_of_its_own(api, client_acct, freelancer):
    """Counted on the repository: the first claim with a key reads once (the API key, the records and the key's
    record together) and writes once (the claim, the key taken and its answer stored); its repeat reads once."""
    bounty_id = api.bounty(client_acct["api_key"])["id"]
    headers = {"Idempotency-Key": "count-me"}

    def claim():
        return api.call("POST", f"/v1/bounties/{bounty_id}/claims", {}, key=freelancer["api_key"], headers=headers)

    with _repo_calls() as calls:
        first = claim()
    assert first[0] == 201 and calls == ["get_many", "commit"], calls
    with _repo_calls() as calls:
        again = claim()
    assert again == first and calls == ["get_many"], calls
    # Another body under the same key is refused after that one read too.
    code, data = api.call("POST", f"/v1/bounties/{bounty_id}/messages", {"body": "hi"}, key=freelancer["api_key"],
                          headers=headers)
    assert code == 409 and data["error"]["code"] == "idempotency_key_reused"


def test_a_refusal_is_the_first_response_too_and_is_given_again(api, client_acct, freelancer):
    """A 409 is kept for its key: the same request later gets the same 409, even once it would pass, so a retry
    never turns a refusal the client saw into an action it did not expect; a new key asks afresh."""
    other = api.account("freelancer")
    bounty = api.bounty(client_acct["api_key"], slots=1)
    held = api.ok("POST", f"/v1/bounties/{bounty['id']}/claims", key=other["api_key"], status=201)
    claim = f"/v1/bounties/{bounty['id']}/claims"
    first = api.post(claim, key=freelancer["api_key"], headers={"Idempotency-Key": "claim-1"})
    assert first[0] == 409 and first[1]["error"]["code"] == "no_slots_left"
    api.ok("POST", f"/v1/claims/{held['id']}/release", key=other["api_key"])
    assert api.post(claim, key=freelancer["api_key"], headers={"Idempotency-Key": "claim-1"}) == first
    assert api.post(claim, key=freelancer["api_key"], headers={"Idempotency-Key": "claim-2"})[0] == 201


def test_a_key_refused_once_is_still_bound_to_its_request(api, client_acct):
    key = client_acct["api_key"]
    bad = {**_body("x"), "slots": 0}
    first = api.post("/v1/bounties", bad, key=key, headers={"Idempotency-Key": "bound"})
    assert first[0] == 422
    code, data = api.post("/v1/bounties", _body("x"), key=key, headers={"Idempotency-Key": "bound"})
    assert (code, data["error"]["code"]) == (409, "idempotency_key_reused")
    missing = api.post("/v1/bounties/bty_nope/cancel", key=key, headers={"Idempotency-Key": "bound-404"})
    assert missing[0] == 404
    assert api.post("/v1/bounties/bty_nope/cancel", key=key, headers={"Idempotency-Key": "bound-404"}) == missing
    code, data = api.post("/v1/bounties/bty_other/cancel", key=key, headers={"Idempotency-Key": "bound-404"})
    assert (code, data["error"]["code"]) == (409, "idempotency_key_reused")


def test_an_unknown_api_key_is_never_kept_for_an_idempotency_key(api, client_acct):
    body = _body("after a typo")
    code, _ = api.post("/v1/bounties", body, key="bk_typo", headers={"Idempotency-Key": "typo"})
    assert code == 401
    assert api.post("/v1/bounties", body, key=client_acct["api_key"], headers={"Idempotency-Key": "typo"})[0] == 201


def test_a_refused_content_type_is_not_kept_so_the_same_request_sent_right_runs(api, client_acct):
    """The content type is not part of what the key is bound to (method, path, body), and a 415 never read the
    body: the same body sent as JSON under the key is the request, and runs."""
    import json

    key = client_acct["api_key"]
    code, _ = api.call("POST", "/v1/bounties", raw=json.dumps(_body("typed")), key=key,
                       headers={"Idempotency-Key": "ctype", "Content-Type": "text/plain"})
    assert code == 415
    assert api.post("/v1/bounties", _body("typed"), key=key, headers={"Idempotency-Key": "ctype"})[0] == 201


def _left_in_progress(record_key: str, *, began):
    """The key's record as an attempt that died leaves it: in progress, no answer (an attempt that ended in our
    sight lets go or stores an answer)."""
    from dataclasses import replace

    from chalicelib.bootstrap import deps

    done = deps().repo.get_idempotency(record_key)
    deps().repo.commit(changed=[replace(done, state="in_progress", status_code=None, body=None, taken_at=began)])


def test_a_key_whose_attempt_died_is_taken_over_after_its_lease_not_held_for_a_day(api, clock, client_acct):
    """A function that times out cannot let its key go: within the lease a repeat waits (409), after it the retry
    runs, rather than every retry getting `idempotency_key_in_use` for the key's 24 hours."""
    from chalicelib.api.idempotency import ATTEMPT_LEASE

    key, headers = client_acct["api_key"], {"Idempotency-Key": "died-once"}
    first = api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key, headers=headers)
    _left_in_progress(f"{client_acct['id']}#died-once", began=clock.now())
    clock.advance(ATTEMPT_LEASE.total_seconds() - 1)
    code, waiting = api.post("/v1/accounts/me/keys", {}, key=key, headers=headers)
    assert (code, waiting["error"]["code"]) == (409, "idempotency_key_in_use"), waiting
    clock.advance(1)
    code, again = api.post("/v1/accounts/me/keys", {}, key=key, headers=headers)
    assert code == 201 and again["id"] != first["id"], again  # its answer was never stored: it runs again
    assert api.post("/v1/accounts/me/keys", {}, key=key, headers=headers) == (201, again)  # and is kept now


def test_a_post_whose_attempt_died_after_storing_its_bounty_is_resumed_after_the_lease(
        api, workers, clock, client_acct, monkeypatch):
    """The bounty is named with the key from the write that stores it, so a retry after a timeout (an attempt that
    never let go) funds that bounty once, rather than waiting a day or posting and charging a second one."""
    import threading

    from chalicelib.api import idempotency
    from chalicelib.api.idempotency import ATTEMPT_LEASE
    from chalicelib.services import bounties

    real, failures = bounties._commit_funded, [TimeoutError("the function ran out of time")]

    def dying_once(*args, **kwargs):
        if failures and threading.current_thread() is threading.main_thread():  # not a webhook's (relay thread)
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(bounties, "_commit_funded", dying_once)
    monkeypatch.setattr(idempotency, "_after_failure", lambda deps, lock: None)  # a dead function cleans nothing
    key, headers = client_acct["api_key"], {"Idempotency-Key": "post-died"}
    body = {**_body("timed out"), "payment_method": "pm_card_visa"}
    assert api.post("/v1/bounties", body, key=key, headers=headers)[0] == 500
    [stored] = api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]
    code, waiting = api.post("/v1/bounties", body, key=key, headers=headers)
    assert (code, waiting["error"]["code"]) == (409, "idempotency_key_in_use"), waiting
    clock.advance(ATTEMPT_LEASE.total_seconds())
    code, posted = api.post("/v1/bounties", body, key=key, headers=headers)
    assert code == 201 and posted["id"] == stored["id"] and posted["status"] == "open", posted
    assert api.post("/v1/bounties", body, key=key, headers=headers) == (201, posted)
    workers.drain()
    assert [b["id"] for b in api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]] == [stored["id"]]
    totals = api.ok("GET", f"/v1/bounties/{stored['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == totals["held"] == posted["funding"]["amount_total"]


def test_a_key_left_in_progress_by_the_release_before_the_lease_still_waits(api, clock, client_acct):
    """Such a record names nothing its attempt made (a post's bounty): taken over, a retry would post and charge a
    second bounty, so it keeps the old answer, 409, until it expires."""
    from dataclasses import replace

    from chalicelib.api.idempotency import ATTEMPT_LEASE
    from chalicelib.bootstrap import deps

    key, headers = client_acct["api_key"], {"Idempotency-Key": "before-the-lease"}
    api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key, headers=headers)
    record_key = f"{client_acct['id']}#before-the-lease"
    done = deps().repo.get_idempotency(record_key)
    deps().repo.commit(changed=[replace(done, state="in_progress", status_code=None, body=None, taken_at=None)])
    clock.advance(10 * ATTEMPT_LEASE.total_seconds())
    code, waiting = api.post("/v1/accounts/me/keys", {}, key=key, headers=headers)
    assert (code, waiting["error"]["code"]) == (409, "idempotency_key_in_use"), waiting


def test_a_key_past_its_24_hours_is_free_again_though_its_record_is_not_deleted_yet(api, clock, client_acct):
    """DynamoDB's TTL deletes an expired record days later, if at all (never on moto): until then a request with its
    key got 409 `idempotency_key_in_use` ("just finishing; send it again") for a request that was not running, and
    three calls (the read, a read of the record again, a delete). The record past its retention is no answer: the
    request runs, in its own two calls, and its answer is the one kept from then on."""
    from chalicelib.api.idempotency import RETENTION

    key = client_acct["api_key"]
    bounty = api.ok("POST", "/v1/bounties", _body("thread"), status=201, key=key)
    thread, headers = f"/v1/bounties/{bounty['id']}/messages", {"Idempotency-Key": "a-day-on"}
    first = api.post(thread, {"body": "hello"}, key=key, headers=headers)
    assert first[0] == 201
    clock.advance(RETENTION.total_seconds() + 1)
    with _repo_calls() as calls:
        code, again = api.post(thread, {"body": "hello"}, key=key, headers=headers)
    assert code == 201 and again["id"] != first[1]["id"], again
    assert calls == ["get_many", "commit"], calls
    assert api.post(thread, {"body": "hello"}, key=key, headers=headers) == (201, again)
    # Another body under it, a day on, is a new request too, not a reuse.
    clock.advance(RETENTION.total_seconds() + 1)
    assert api.post(thread, {"body": "other"}, key=key, headers=headers)[0] == 201


def test_a_number_written_another_way_is_the_same_body(api, client_acct):
    """The API reads 500, 500.0 and 5e2 as one number (docs/LIMITS.md), and a body re-encoded on its way to a
    retry (a queue in JavaScript, say, turns 500.0 into 500) is the same request: its first answer again, not 409.
    A number the API reads as another (500.00000000000001, refused where 500.0 is taken) is another body."""
    import json

    key, headers = client_acct["api_key"], {"Idempotency-Key": "numbers"}
    text = json.dumps(_body("numbers"))
    first = api.call("POST", "/v1/bounties", raw=text.replace('"amount": 700', '"amount": 700.0'), key=key,
                     headers=headers)
    assert first[0] == 201 and first[1]["reward"]["amount"] == 700
    for spelled in ("700", "7e2", "7.00E+2", "700.000"):
        again = api.call("POST", "/v1/bounties", raw=text.replace('"amount": 700', f'"amount": {spelled}'), key=key,
                         headers=headers)
        assert again == first, (spelled, again)
    code, data = api.call("POST", "/v1/bounties", raw=text.replace('"amount": 700', '"amount": 700.00000000000001'),
                          key=key, headers=headers)
    assert (code, data["error"]["code"]) == (409, "idempotency_key_reused"), data
    assert [b["id"] for b in api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]] == [first[1]["id"]]


def test_a_repeated_post_is_answered_in_two_calls(api, client_acct):
    """Posting a bounty reads nothing before its first write, which finds the key taken on a repeat: the caller's
    API key and the key's record are then read together, one call, not one each (three calls in all, past the two a
    request may make). The same for another body under the key, refused 409 after that read."""
    key, headers = client_acct["api_key"], {"Idempotency-Key": "two-calls"}
    first = api.post("/v1/bounties", _body("counted"), key=key, headers=headers)
    assert first[0] == 201
    with _repo_calls() as calls:
        assert api.post("/v1/bounties", _body("counted"), key=key, headers=headers) == first
        assert calls == ["commit", "get_many"], calls
        calls.clear()
        code, data = api.post("/v1/bounties", _body("another"), key=key, headers=headers)
        assert (code, data["error"]["code"]) == (409, "idempotency_key_reused")
        assert calls == ["commit", "get_many"], calls
        calls.clear()
        # Refused before anything is read (a field too many): its refusal's write finds the key, then one read.
        code, data = api.post("/v1/bounties", {**_body("counted"), "surprise": 1}, key=key, headers=headers)
        assert (code, data["error"]["code"]) == (409, "idempotency_key_reused")
        assert calls == ["commit", "get_many"], calls
        calls.clear()
        # A revoked or forged API key still gets 401 from that read, never the stored answer.
        code, data = api.post("/v1/bounties", _body("counted"), key=key[:-4] + "zzzz", headers=headers)
        assert code == 401, data


def test_a_number_past_decimal_arithmetic_is_refused_like_any_other_not_a_500(api, client_acct):
    """The body's fingerprint reads numbers exactly: one with a huge exponent (1e9999999) is refused as the API
    refuses it without a key (422), not a 500 from the arithmetic that wrote the fingerprint. Numbers that differ
    only past 28 significant digits are still two bodies."""
    import json

    key = client_acct["api_key"]
    text = json.dumps(_body("huge"))
    for spelled in ("1e9999999", "-1e9999999", "1e-9999999"):
        raw = text.replace('"amount": 700', f'"amount": {spelled}')
        bare = api.call("POST", "/v1/bounties", raw=raw, key=key)
        keyed = api.call("POST", "/v1/bounties", raw=raw, key=key, headers={"Idempotency-Key": f"huge-{spelled}"})
        assert bare[0] == keyed[0] == 422, (spelled, bare, keyed)
    headers = {"Idempotency-Key": "many-digits"}
    first = "700." + "0" * 30 + "1"
    assert api.call("POST", "/v1/bounties", raw=text.replace('"amount": 700', f'"amount": {first}'), key=key,
                    headers=headers)[0] == 422
    code, data = api.call("POST", "/v1/bounties", raw=text.replace('"amount": 700', f'"amount": {first[:-1]}2'),
                          key=key, headers=headers)
    assert (code, data["error"]["code"]) == (409, "idempotency_key_reused"), data
