"""Shared fixtures: the real stand-in servers (moto, localstripe) over HTTP, started once per run."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import urllib.request

import pytest
from chalice.test import BaseClient

from devtools.servers import start_localstripe, start_moto

# Set before any boto3/PynamoDB/stripe client exists; the app reads these lazily.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("STAGE", "test")
os.environ.setdefault("STRIPE_SECRET_KEY", "sk_test_local")
os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_test_secret")
# A failed queue message comes back at once instead of after 15 s, so retries run within a test.
os.environ.setdefault("RETRY_BACKOFF_SECONDS", "0")
# moto on a machine busy with the whole suite can take far longer than DynamoDB: the deployed limits
# (chalicelib.config.aws_call_limits) would time out and retry calls that succeeded.
os.environ.setdefault("AWS_CONNECT_TIMEOUT_SECONDS", "10")
os.environ.setdefault("AWS_READ_TIMEOUT_SECONDS", "60")


@contextlib.contextmanager
def _environment_left_alone(self, environment_variables):
    """Chalice's test client replaces os.environ with a copy around each request, to add the stage's environment
    variables, and puts back the one it found. Our stages define none, and Stripe's webhooks reach the app from
    another thread: two overlapping requests could leave a stale copy as os.environ for the rest of the run (with a
    setting a test had monkeypatched and since undone). So os.environ is left as it is."""
    assert not environment_variables, "a stage's environment variables would need applying here"
    yield


BaseClient._patched_env_vars = _environment_left_alone


@pytest.fixture(scope="session")
def moto_server():
    server = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = server.url
    yield server
    server.stop()


# Webhooks a tenth of a second after their event rather than localstripe's second: still after the request that made
# the event has been answered, as Stripe sends them, but some sixty tests wait for one.
WEBHOOK_DELAY_SECONDS = 0.1


@pytest.fixture(scope="session")
def localstripe_server():
    server = start_localstripe()
    os.environ["STRIPE_API_BASE"] = server.url
    set_webhook_delay(server.url, WEBHOOK_DELAY_SECONDS)
    yield server
    server.stop()


def set_webhook_delay(url: str, seconds: float) -> None:
    form = urllib.parse.urlencode({"seconds": seconds}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/_config/webhook_delay", data=form), timeout=10).close()


def reset_moto(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def reset_localstripe(url: str) -> None:
    request = urllib.request.Request(f"{url}/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()
