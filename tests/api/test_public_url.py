"""The links the app hands out (onboarding's return link, the web form's own links) point where people reach it: at
PUBLIC_BASE_URL when set, else, deployed, at the execute-api domain and stage API Gateway served the request at,
so a new stage needs no second deploy to learn its own address."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from chalicelib import config

GATEWAY = "abc123.execute-api.eu-west-1.amazonaws.com"


def _gateway_event(method: str, resource: str, path: str, *, key: str | None = None, domain: str = GATEWAY) -> dict:
    """A request as API Gateway's Lambda proxy integration hands it to the function."""
    headers = {"Host": domain, "Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "requestId": "req-public-url",
                           "domainName": domain, "stage": "api", "path": f"/api{path}",
                           "identity": {"sourceIp": "203.0.113.9"}},
        "body": "{}" if method == "POST" else None, "isBase64Encoded": False,
    }


@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)


def test_onboarding_links_back_to_the_gateway_url_the_request_came_in_at(chalice_app, freelancer, deployed):
    event = _gateway_event("POST", "/v1/accounts/me/payout-onboarding", "/v1/accounts/me/payout-onboarding",
                           key=freelancer["api_key"])
    answer = chalice_app(event, None)
    assert answer["statusCode"] == 200, answer
    link = urllib.parse.urlsplit(json.loads(answer["body"])["url"])
    back = urllib.parse.parse_qs(link.query)["return_url"][0]
    assert back == f"https://{GATEWAY}/api/web/onboarding/complete"


def test_web_pages_link_under_the_stage_they_were_served_from(chalice_app, deployed):
    answer = chalice_app(_gateway_event("GET", "/web/signin", "/web/signin"), None)
    assert answer["statusCode"] == 200, answer
    assert 'action="/api/web/signin"' in answer["body"]


def test_a_configured_url_wins_and_other_hosts_are_not_trusted(monkeypatch):
    assert config.gateway_url({"domainName": GATEWAY, "stage": "api"}) == f"https://{GATEWAY}/api"
    for context in ({"domainName": "evil.example", "stage": "api"}, {"domainName": "localhost", "stage": "api"},
                    {"domainName": GATEWAY}, {}):
        assert config.gateway_url(context) is None, context
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with config.serving({"domainName": GATEWAY, "stage": "api"}):
        assert config.public_base_url() == f"https://{GATEWAY}/api"
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://bounties.example.com")
        assert config.public_base_url() == "https://bounties.example.com"
    monkeypatch.delenv("PUBLIC_BASE_URL")
    assert config.public_base_url() == config.LOCAL_BASE_URL  # outside a request served by API Gateway
