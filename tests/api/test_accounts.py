import json

import pytest

from chalicelib.adapters.dynamo import DynamoRepository
from chalicelib.core import errors
from chalicelib.services.accounts import hash_api_key


def test_create_account_returns_key_once_and_stores_only_its_hash(api):
    created = api.account("freelancer")
    assert created["api_key"].startswith("bk_")
    assert created["id"].startswith("acct_")
    me = api.ok("GET", "/v1/accounts/me", key=created["api_key"])
    assert me["api_key"] is None
    assert me["payouts_enabled"] is False
    assert me["rating"] == {"mean": None, "count": 0}
    assert me["completed"] == 0 and me["earned"] == []
    stored = DynamoRepository().get_api_key(hash_api_key(created["api_key"]))
    assert stored.account_id == created["id"]
    assert created["api_key"] not in repr(stored)


def test_client_account_has_no_freelancer_fields(api):
    client = api.account("client")
    me = api.ok("GET", "/v1/accounts/me", key=client["api_key"])
    assert me["role"] == "client" and me["rating"] is None and me["earned"] is None


def test_missing_and_unknown_keys_are_401(api):
    code, body = api.get("/v1/accounts/me")
    assert code == 401 and body["error"]["code"] == "unauthenticated"
    code, body = api.get("/v1/accounts/me", key="bk_not-a-real-key")
    assert code == 401 and "not valid" in body["error"]["message"]
    code, _ = api.call("GET", "/v1/accounts/me", headers={"Authorization": "Basic abc"})
    assert code == 401


def test_account_validation(api):
    cases = [
        {"role": "admin", "name": "x", "email": "x@example.com"},
        {"role": "client", "name": "", "email": "x@example.com"},
        {"role": "client", "name": "x", "email": "not-an-email"},
        {"role": "client", "name": "x", "email": "x@example.com", "extra": 1},
        {"role": "client", "name": 5, "email": "x@example.com"},
        {"name": "x", "email": "x@example.com"},
    ]
    for body in cases:
        code, data = api.post("/v1/accounts", body)
        assert code == 422, body
        assert data["error"]["code"] == "validation_error" and data["error"]["message"]


def test_malformed_bodies_get_json_errors(api):
    code, data = api.call("POST", "/v1/accounts", raw="{not json")
    assert code == 400 and data["error"]["code"] == "invalid_json"
    code, data = api.call("POST", "/v1/accounts", raw="[1, 2]")
    assert code == 422
    code, data = api.call("POST", "/v1/accounts", raw='{"role": "client", "name": "' + "x" * 70_000 + '"}')
    assert code == 422 and data["error"]["code"] == "body_too_large"


def test_the_key_list_pages_newest_first_as_every_list_does(api):
    """Each rotation leaves a revoked key behind, so the list grows without bound: it pages like the others."""
    account = api.account("client")
    key = account["api_key"]
    made = [api.ok("POST", "/v1/accounts/me/keys", key=key, status=201)["id"] for _ in range(4)]
    pages, cursor = [], None
    while True:
        page = api.ok("GET", "/v1/accounts/me/keys?limit=2" + (f"&cursor={cursor}" if cursor else ""), key=key)
        pages.append([k["id"] for k in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, [])[:4] == made[::-1]  # newest first; the sign-up's key last
    for bad in ("0", "101", "x"):
        code, data = api.get(f"/v1/accounts/me/keys?limit={bad}", key=key)
        assert (code, data["error"]["code"]) == (422, "invalid_limit")
    code, data = api.get("/v1/accounts/me/keys?cursor=forged.x", key=key)
    assert (code, data["error"]["code"]) == (422, "invalid_cursor")


def test_keys_rotate_and_revoke(api):
    account = api.account("client")
    old = account["api_key"]
    [listed] = api.ok("GET", "/v1/accounts/me/keys", key=old)["items"]
    assert listed["revoked"] is False and listed["api_key"] is None
    new = api.ok("POST", "/v1/accounts/me/keys", key=old, status=201)
    assert new["api_key"].startswith("bk_") and new["api_key"] != old
    assert api.ok("GET", "/v1/accounts/me", key=new["api_key"])["id"] == account["id"]
    revoked = api.ok("DELETE", f"/v1/accounts/me/keys/{listed['id']}", key=new["api_key"])
    assert revoked["revoked"] is True
    code, _ = api.get("/v1/accounts/me", key=old)
    assert code == 401
    # The one live key left cannot go: the account would be locked out for good.
    code, data = api.call("DELETE", f"/v1/accounts/me/keys/{new['id']}", key=new["api_key"])
    assert code == 409 and data["error"]["code"] == "last_key"
    assert api.ok("GET", "/v1/accounts/me", key=new["api_key"])["id"] == account["id"]
    code, _ = api.call("DELETE", "/v1/accounts/me/keys/key_unknown", key=new["api_key"])
    assert code == 404
    other = api.account("client")
    code, _ = api.call("DELETE", f"/v1/accounts/me/keys/{new['id']}", key=other["api_key"])
    assert code == 404


def test_white_space_alone_is_no_json_body_but_no_body_is_fine(api, freelancer):
    """An operation that takes no body: nothing at all is an empty object, white space alone is invalid JSON."""
    for raw in ("\t", " ", "\r\n"):
        code, data = api.call("POST", "/v1/accounts/me/payout-onboarding", raw=raw, key=freelancer["api_key"])
        assert code == 400 and data["error"]["code"] == "invalid_json", (raw, data)
    code, data = api.call("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])
    assert code == 200 and data["url"].startswith("http"), data


def test_non_json_bodies_are_refused_in_the_error_shape(api):
    code, data = api.call("POST", "/v1/accounts", raw="role=client",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 415 and data["error"]["code"] == "unsupported_media_type"
    code, data = api.call("GET", "/v1/bounties", headers={"Content-Type": "text/plain"})
    assert code == 200


def test_a_method_a_path_does_not_answer_is_405_in_the_error_shape(api, client_acct):
    for method, path, allowed in (("PUT", "/v1/bounties", "GET, POST"), ("DELETE", "/v1/accounts/me", "GET"),
                                  ("GET", "/v1/submissions/sub_x/approve", "POST"),
                                  ("PATCH", "/v1/accounts/me/keys/key_x", "DELETE")):
        response = getattr(api.client.http, method.lower())(path, headers={"Authorization":
                                                                           f"Bearer {client_acct['api_key']}"})
        assert response.status_code == 405, (method, path, response.body)
        assert response.headers["Allow"] == allowed
        error = json.loads(response.body)["error"]
        assert error["code"] == "method_not_allowed" and allowed in error["message"]
    # And the routes themselves still answer, without the header.
    response = api.client.http.get("/v1/bounties")
    assert response.status_code == 200 and "Allow" not in response.headers



def test_options_on_an_api_path_is_405_in_the_error_shape_not_an_empty_200(api):
    """No route takes OPTIONS (the API sets no CORS), so it is a method the path does not answer: Chalice's own
    stand-in preflight answered 200 with no body and no `Allow`, and API Gateway, deployed, a 404 for a path that
    exists."""
    for path, allowed in (("/v1/bounties", "GET, POST"), ("/v1/accounts/me", "GET"),
                          ("/v1/openapi.json", "GET"), ("/v1/bounties/bty_x/claims", "POST")):
        response = api.client.http.options(path, headers={"Origin": "https://example.com",
                                                          "Access-Control-Request-Method": "POST"})
        assert response.status_code == 405, (path, response.status_code, response.body)
        assert response.headers["Allow"] == allowed
        assert json.loads(response.body)["error"]["code"] == "method_not_allowed"

def test_the_key_limit_holds_when_another_request_adds_the_last_key_between_count_and_write(api, client_acct):
    """The listing the count comes from is read first; a request adding the tenth key meanwhile must not let this
    one add an eleventh (30 racing adds once left 21 live keys)."""
    from dataclasses import replace

    from chalicelib.bootstrap import deps
    from chalicelib.services import accounts
    from tests.api.racing import caller

    key = client_acct["api_key"]
    for _ in range(accounts.MAX_KEYS - 2):
        api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key)
    real = deps()

    class TenthAddedMeanwhile:
        def __init__(self, repo):
            self.repo, self.done = repo, False

        def list_api_keys(self, account_id):
            listed = self.repo.list_api_keys(account_id)
            if not self.done:
                self.done = True
                api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key)  # the tenth, by another request
            return listed

        def __getattr__(self, name):
            return getattr(self.repo, name)

    racing = replace(real, repo=TenthAddedMeanwhile(real.repo))
    with pytest.raises(errors.StateConflict) as refused:
        accounts.add_key(racing, caller(client_acct))
    assert refused.value.code == "too_many_keys"
    live = [k for k in api.ok("GET", "/v1/accounts/me/keys", key=key)["items"] if not k["revoked"]]
    assert len(live) == accounts.MAX_KEYS
    # Revoking one frees its place, which a new key then takes.
    api.ok("DELETE", f"/v1/accounts/me/keys/{live[0]['id']}", key=key)  # the newest, not the one in use
    api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key)
    code, body = api.post("/v1/accounts/me/keys", {}, key=key)
    assert (code, body["error"]["code"]) == (409, "too_many_keys")


def test_revoking_a_key_its_web_sign_out_just_changed_is_not_a_500(api, freelancer, monkeypatch):
    """Signing out of the web form writes on the key's record; a revocation that listed the key from the (lagging)
    index just before writes at a stale version, reads the key again, and revokes it."""
    import time

    from chalicelib.bootstrap import deps
    from chalicelib.services import accounts

    first = freelancer["api_key"]
    second = api.ok("POST", "/v1/accounts/me/keys", key=first, status=201)
    target = next(k for k in api.ok("GET", "/v1/accounts/me/keys", key=first)["items"] if k["id"] != second["id"])
    repo = deps().repo
    listed_by_index = repo.list_api_keys

    def listing_then_web_sign_out(account_id):
        keys = listed_by_index(account_id)
        accounts.end_web_sessions(deps(), accounts.authenticate(deps(), f"Bearer {first}"), time.time())
        return keys

    monkeypatch.setattr(repo, "list_api_keys", listing_then_web_sign_out)
    revoked = api.ok("DELETE", f"/v1/accounts/me/keys/{target['id']}", key=second["api_key"])
    assert revoked["revoked"] is True
    code, _ = api.get("/v1/accounts/me", key=first)
    assert code == 401


def test_adding_a_key_that_collides_with_another_write_on_the_account_tries_again(api, client_acct, monkeypatch):
    """A transaction conflict (an approval adding to the account's counters at the same moment, say) is no limit:
    the add is tried again, rather than answered with a `too_many_keys` its Idempotency-Key would then keep."""
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.adapters import dynamo

    real, conflicts = dynamo.transaction_of_one_request, [1]

    class Colliding(TransactWrite):
        def __exit__(self, *exc):  # DynamoDB cancels it: nothing of it is written
            raise TransactWriteError("cancelled", cause=ClientError(
                {"Error": {"Code": "TransactionConflictException", "Message": "a transaction on the same item"}},
                "TransactWriteItems"))

    def colliding_once():
        if conflicts:
            conflicts.pop()
            return Colliding(connection=dynamo._connection())
        return real()

    monkeypatch.setattr(dynamo, "transaction_of_one_request", colliding_once)
    key, headers = client_acct["api_key"], {"Idempotency-Key": "collides-once"}
    added = api.ok("POST", "/v1/accounts/me/keys", {}, status=201, key=key, headers=headers)
    assert conflicts == [] and added["api_key"]
    assert api.post("/v1/accounts/me/keys", {}, key=key, headers=headers) == (201, added)
    assert sum(not k["revoked"] for k in api.ok("GET", "/v1/accounts/me/keys", key=key)["items"]) == 2
