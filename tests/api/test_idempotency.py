import uuid


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


def _body(title):
    from datetime import UTC, datetime, timedelta

    deadline = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"title": title, "description": "d", "reward": {"amount": 700, "currency": "usd"}, "deadline": deadline}


def test_same_key_other_body_is_409(api, client_acct):
    key = client_acct["api_key"]
    first = api.post("/v1/bounties", _body("a"), key=key, headers={"Idempotency-Key": "reuse"})
    assert first[0] == 201
    code, data = api.post("/v1/bounties", _body("b"), key=key, headers={"Idempotency-Key": "reuse"})
    assert code == 409 and data["error"]["code"] == "idempotency_key_reused"
    code, data = api.post(f"/v1/bounties/{first[1]['id']}/cancel", key=key, headers={"Idempotency-Key": "reuse"})
    assert code == 409 and data["error"]["code"] == "idempotency_key_reused"


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
    stored = [item.body for item in m.IdempotencyModel.scan() if item.key.endswith(key)]
    assert stored and all(first["api_key"] not in (text or "") for text in stored)
    assert api.ok("POST", "/v1/accounts", body, status=201, headers={"Idempotency-Key": key}) == first
