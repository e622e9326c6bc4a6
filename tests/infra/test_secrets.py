"""Deployed, the functions read their secrets from SSM (the `<VAR>_PARAM` names the template gives each): all of
a function's in one request at the first need, and a missing one refused as GetParameter refuses it."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import secrets

from .conftest import REGION


@pytest.fixture
def ssm_secrets(aws, monkeypatch):
    for name in [n for n in list(os.environ) if n.endswith("_PARAM") or n in (
            "STRIPE_SECRET_KEY", "API_KEY_PEPPER", "STRIPE_WEBHOOK_SECRET", "WEB_SESSION_SECRET")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    ssm = aws.client("ssm")
    for name, value in (("stripe-secret-key", "sk_test_from_ssm"), ("api-key-pepper", "pepper-from-ssm")):
        ssm.put_parameter(Name=f"/bounty-board/dev/{name}", Value=value, Type="SecureString")
        monkeypatch.setenv(f"{name.upper().replace('-', '_')}_PARAM", f"/bounty-board/dev/{name}")
    secrets._parameters.cache_clear()
    calls: list[str] = []
    events = boto3._get_default_session().events  # the session boto3.client() builds its clients from

    def count(model, **_):
        if model.name.startswith("Get"):  # the test's own puts go through that session too
            calls.append(model.name)

    events.register("before-call.ssm", count)
    yield calls
    events.unregister("before-call.ssm", count)
    secrets._parameters.cache_clear()


def test_every_secret_of_a_function_is_read_in_one_request(ssm_secrets):
    assert secrets.secret("API_KEY_PEPPER", "default") == "pepper-from-ssm"
    assert secrets.secret("STRIPE_SECRET_KEY", "default") == "sk_test_from_ssm"
    assert secrets.secret("API_KEY_PEPPER", "default") == "pepper-from-ssm"
    assert ssm_secrets == ["GetParameters"]


def test_a_secret_missing_from_ssm_is_refused_as_not_found_and_looked_for_again(ssm_secrets, monkeypatch, aws):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_PARAM", "/bounty-board/dev/stripe-webhook-secret")
    with pytest.raises(ClientError, match="ParameterNotFound"):
        secrets.secret("STRIPE_WEBHOOK_SECRET", "default")
    aws.client("ssm").put_parameter(Name="/bounty-board/dev/stripe-webhook-secret", Value="whsec_later",
                                    Type="SecureString")
    assert secrets.secret("STRIPE_WEBHOOK_SECRET", "default") == "whsec_later"
    assert ssm_secrets == ["GetParameters", "GetParameters"]


def test_a_secret_in_the_environment_is_used_without_asking_ssm(ssm_secrets, monkeypatch):
    monkeypatch.setenv("API_KEY_PEPPER", "pepper-from-env")
    assert secrets.secret("API_KEY_PEPPER", "default") == "pepper-from-env"
    assert ssm_secrets == []
