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
