from chalicelib.api.http import ROUTES


def test_openapi_document_lists_every_route_with_schemas(api):
    doc = api.ok("GET", "/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert str(route.status) in operation["responses"]
        if route.body is not None:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.split("/")[-1] in doc["components"]["schemas"]
    create = doc["components"]["schemas"]["CreateBounty"]
    assert create["additionalProperties"] is False
    assert set(create["required"]) == {"title", "description", "reward", "deadline"}
    webhook = doc["paths"]["/v1/webhooks/stripe"]["post"]  # Stripe's event and its signature, described
    assert {"name": "Stripe-Signature", "in": "header"}.items() <= webhook["parameters"][-1].items()
    assert "account.updated" in webhook["requestBody"]["description"]


def test_contract_routes_are_all_present(api):
    doc = api.ok("GET", "/v1/openapi.json")
    expected = {
        ("post", "/v1/accounts"), ("get", "/v1/accounts/me"),
        ("post", "/v1/bounties"), ("get", "/v1/bounties"), ("get", "/v1/bounties/{bounty_id}"),
        ("post", "/v1/bounties/{bounty_id}/cancel"), ("post", "/v1/bounties/{bounty_id}/claims"),
        ("post", "/v1/claims/{claim_id}/release"), ("post", "/v1/bounties/{bounty_id}/submissions"),
        ("get", "/v1/bounties/{bounty_id}/submissions"), ("get", "/v1/submissions/{submission_id}"),
        ("post", "/v1/submissions/{submission_id}/approve"), ("post", "/v1/submissions/{submission_id}/reject"),
        ("get", "/v1/bounties/{bounty_id}/ledger"), ("post", "/v1/bounties/{bounty_id}/messages"),
        ("get", "/v1/bounties/{bounty_id}/messages"), ("get", "/v1/payouts"), ("post", "/v1/webhooks/stripe"),
        ("get", "/v1/openapi.json"),
    }
    present = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert expected <= present


def test_each_status_filter_lists_the_values_its_path_takes(api):
    """The bounty listing filters by bounty status; the payouts listing (an extension) by payout status or
    `unpaid`: each value the document lists is accepted, and one from the other list is refused."""
    doc = api.ok("GET", "/v1/openapi.json")

    def values(path: str) -> list[str]:
        [status] = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "status"]
        return status["schema"]["enum"]

    freelancer = api.account("freelancer")["api_key"]
    assert values("/v1/payouts") == ["queued", "paid", "awaiting_onboarding", "failed", "unpaid"]
    for value in values("/v1/payouts"):
        api.ok("GET", f"/v1/payouts?status={value}", key=freelancer)
    assert api.call("GET", "/v1/payouts?status=open", key=freelancer)[0] == 422
    assert "open" in values("/v1/bounties")
    for value in values("/v1/bounties"):
        api.ok("GET", f"/v1/bounties?status={value}")
    # A bounty's submissions (an extension) by submission status: the document once offered the bounty statuses
    # here, every one of which the API refuses, and none of the values it takes.
    owner = api.account("client")["api_key"]
    bounty = api.bounty(owner)
    path = "/v1/bounties/{bounty_id}/submissions"
    assert values(path) == ["pending_review", "approved", "rejected"]
    for value in values(path):
        api.ok("GET", f"/v1/bounties/{bounty['id']}/submissions?status={value}", key=owner)
    assert api.call("GET", f"/v1/bounties/{bounty['id']}/submissions?status=open", key=owner)[0] == 422


def test_the_reward_currency_is_stated_as_the_currencies_the_server_takes(api, client_acct):
    import re

    pattern = api.ok("GET", "/v1/openapi.json")["components"]["schemas"]["Reward"]["properties"]["currency"]["pattern"]
    for currency, taken in (("usd", True), ("USD", True), ("xyz", False), ("usdx", False)):
        assert bool(re.fullmatch(pattern, currency)) is taken, currency
        code, body = api.post("/v1/bounties", {"title": "t", "description": "d", "payment_method": None,
                                               "reward": {"amount": 500, "currency": currency},
                                               "deadline": "2099-01-01T00:00:00Z"}, key=client_acct["api_key"])
        # The far deadline is refused too: the message says whether the currency was.
        assert code == 422 and ("currency" in body["error"]["message"].lower()) is not taken, (currency, body)


def test_every_field_of_a_response_is_required_in_the_document_as_every_answer_sends_it(api, client_acct):
    """Answers always carry every field of their model (null where there is nothing), but the document listed the
    fields that have a default as optional: Money's `currency`, the account's `api_key`, `payouts_enabled`,
    `rating`, `completed` and `earned`, a bounty's `funding`, a key list's `next_cursor`. A client generated from it
    had to handle answers without them, and a validator could not tell a field dropped from the answer."""
    doc = api.ok("GET", "/v1/openapi.json")
    schemas = doc["components"]["schemas"]
    seen: set[str] = set()

    def walk(schema) -> None:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if ref and ref.split("/")[-1] not in seen:
                name = ref.split("/")[-1]
                seen.add(name)
                target = schemas[name]
                missing = set(target.get("properties", {})) - set(target.get("required", []))
                assert not missing, (name, sorted(missing))
                walk(target)
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    for operations in doc["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    walk(response.get("content", {}))
    assert {"Money", "AccountOut", "BountyOut", "Funding", "ApiKeyList"} <= seen
    # And the answers do send every one of them, for a client account too (its freelancer fields null).
    me = api.ok("GET", "/v1/accounts/me", key=client_acct["api_key"])
    assert set(me) == set(schemas["AccountOut"]["properties"])
