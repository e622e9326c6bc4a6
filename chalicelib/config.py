"""Settings read from the environment, on use, so tests and the local stack can set them late."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .secrets import secret


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def stage() -> str:
    return _env("STAGE", "local")


def table_prefix() -> str:
    """Every table is named `<prefix><entity>`, e.g. `bounty-local-bounties`."""
    return _env("TABLE_PREFIX", f"bounty-{stage()}-")


def queue_prefix() -> str:
    return _env("QUEUE_PREFIX", f"bounty-{stage()}-")


# Queue names are needed at import time by the @app.on_sqs_message decorators, so they are
# plain functions over the environment the Lambda (or the local runner) is started with.
def payouts_queue_name() -> str:
    return queue_prefix() + "payouts"


def refunds_queue_name() -> str:
    return queue_prefix() + "refunds"


def timers_queue_name() -> str:
    return queue_prefix() + "timers"


@dataclass(frozen=True)
class CallLimits:
    """How long one DynamoDB or SQS request may take, and how often the SDK tries it again."""

    connect_seconds: float
    read_seconds: float
    retries: int

    @property
    def slowest_seconds(self) -> float:
        """A request failing every try (the SDK's backoff between tries is milliseconds for these errors)."""
        return (self.retries + 1) * (self.connect_seconds + self.read_seconds)


# The deployed functions set none of the variables below, so these are their limits (tests/infra/test_template.py).
DEPLOYED_CALL_LIMITS = CallLimits(connect_seconds=0.5, read_seconds=1.0, retries=2)


def aws_call_limits() -> CallLimits:
    """For every DynamoDB and SQS request. A healthy one takes milliseconds; one that hangs is given up and tried
    again well within a function's time budget (docs/DESIGN.md "Time budgets"), where botocore's defaults (60 s)
    or PynamoDB's (30 s) would run into the function's timeout. The local stack and the tests set longer ones,
    since their stand-in is slower and a busy machine slower still; the bench, longer again."""
    deployed = DEPLOYED_CALL_LIMITS
    return CallLimits(connect_seconds=float(_env("AWS_CONNECT_TIMEOUT_SECONDS", str(deployed.connect_seconds))),
                      read_seconds=float(_env("AWS_READ_TIMEOUT_SECONDS", str(deployed.read_seconds))),
                      retries=int(_env("AWS_MAX_RETRY_ATTEMPTS", str(deployed.retries))))


def platform_fee_bps() -> int:
    return int(_env("PLATFORM_FEE_BPS", "1000"))


def supported_currencies() -> frozenset[str]:
    raw = _env("SUPPORTED_CURRENCIES", "usd")
    return frozenset({"usd"} | {c.strip().lower() for c in raw.split(",") if c.strip()})


def open_index_shards() -> int:
    return int(_env("OPEN_INDEX_SHARDS", "1"))


def api_key_pepper() -> str:
    """Secret mixed into API-key hashes so a leaked table does not reveal usable keys."""
    return secret("API_KEY_PEPPER", "local-dev-pepper")


def stripe_secret_key() -> str:
    return secret("STRIPE_SECRET_KEY", "sk_test_local")


def stripe_api_base() -> str | None:
    """Set in the local stack to localstripe's URL; unset on AWS (the SDK's default)."""
    return os.environ.get("STRIPE_API_BASE") or None


def stripe_webhook_secret() -> str:
    """Every webhook endpoint's signing secret, comma-separated (the platform's and the connected accounts')."""
    return secret("STRIPE_WEBHOOK_SECRET", "whsec_local")


LOCAL_BASE_URL = "http://127.0.0.1:8000"
_served_at: ContextVar[str | None] = ContextVar("served_at", default=None)


def public_base_url() -> str:
    """Where people reach the API and the web form; used in links we hand out. PUBLIC_BASE_URL when set (a custom
    domain, the local stack); otherwise, inside a request API Gateway served on its own domain, that domain and
    stage, so a new stage needs no second deploy to learn its own address; otherwise the local default."""
    return os.environ.get("PUBLIC_BASE_URL") or _served_at.get() or LOCAL_BASE_URL


def gateway_url(request_context: dict) -> str | None:
    """The URL API Gateway served a request at, from its request context; None unless that is API Gateway's own
    execute-api domain (a custom domain can map the API under any path, so it must be configured)."""
    domain, stage = request_context.get("domainName") or "", request_context.get("stage") or ""
    if domain.endswith(".amazonaws.com") and ".execute-api." in domain and stage:
        return f"https://{domain}/{stage}"
    return None


@contextmanager
def serving(request_context: dict) -> Iterator[None]:
    """Inside: public_base_url() can fall back on the URL this request was served at."""
    token = _served_at.set(gateway_url(request_context))
    try:
        yield
    finally:
        _served_at.reset(token)


def max_receive_count() -> int:
    """Deliveries of one message before SQS moves it to the dead-letter queue (infra uses the same)."""
    return int(_env("MAX_RECEIVE_COUNT", "5"))


def timer_shards() -> int:
    return int(_env("TIMER_SHARDS", "4"))


def web_session_secret() -> str:
    """Signs the web form's session cookies, and through them its CSRF tokens."""
    return secret("WEB_SESSION_SECRET", "local-dev-web-session-secret")


def retry_backoff_seconds() -> int:
    """The first retry of a failed queue message waits this long; each further one twice as long."""
    return int(_env("RETRY_BACKOFF_SECONDS", "15"))
