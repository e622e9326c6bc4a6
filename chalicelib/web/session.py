"""The web form's session: a signed cookie (HMAC-SHA256), and CSRF tokens bound to it.

Nothing secret is in the cookie: it names the account, the API key the freelancer signed in with and a random
nonce. The key is named by its id and by the keyed hash the store looks it up by, which reveals nothing of the
key itself: a page's first read then fetches the key with the records it needs, so revoking the key ends the
session at no extra round trip. The signature makes it unforgeable; the nonce is renewed at
sign-in and sign-out, so a token or cookie planted before sign-in is useless afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass

from .. import config

COOKIE = "bb_session"
FLASH_COOKIE = "bb_flash"
LIFETIME_SECONDS = 12 * 3600
FLASH_SECONDS = 120
LOCAL_STAGES = ("local", "test")
DEFAULT_SECRET = "local-dev-web-session-secret"


class NotConfigured(Exception):
    """Deployed without WEB_SESSION_SECRET (or its SSM parameter): sessions would be forgeable."""


@dataclass(frozen=True)
class Session:
    nonce: str
    expires: int  # unix seconds
    account_id: str | None = None
    role: str | None = None
    key_id: str | None = None
    name: str | None = None
    key_hash: str | None = None  # absent from sessions begun before it was recorded
    begun: float | None = None  # unix seconds; absent from sessions begun before it was recorded

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None

    @property
    def begun_at(self) -> float:
        """When it was signed in: what signing out elsewhere compares (ApiKey.sessions_from)."""
        return self.begun if isinstance(self.begun, int | float) else float(self.expires - LIFETIME_SECONDS)


def deployed() -> bool:
    """On Lambda whatever the stage is named (the runtime sets AWS_LAMBDA_FUNCTION_NAME), so a stage deployed as
    `test` still gets Secure cookies and refuses the development secret."""
    return config.stage() not in LOCAL_STAGES or bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


HOST_ONLY = "__Host-"


def cookie_name(name: str) -> str:
    """A cookie's name as sent. Deployed, with the __Host- prefix: browsers take such a cookie only from this host
    (Secure, Path=/, no Domain), so a sibling domain cannot plant a session of its choosing (its owner's own, read
    before ours: the victim's work would go to that account), nor a flash."""
    return HOST_ONLY + name if deployed() else name


def _secret() -> bytes:
    value = config.web_session_secret()
    if deployed() and value == DEFAULT_SECRET:
        raise NotConfigured("Set WEB_SESSION_SECRET or WEB_SESSION_SECRET_PARAM for a deployed stage.")
    return value.encode()


def _mac(purpose: str, data: str) -> str:
    return hmac.new(_secret(), f"{purpose}\n{data}".encode(), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of text from outside: compare_digest refuses str holding non-ASCII (a TypeError)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def sign(purpose: str, payload: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac(purpose, body)}"


def unsign(purpose: str, value: str | None) -> dict | None:
    """The payload of a value made by `sign` for the same purpose, or None for anything else."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    if not _same(mac, _mac(purpose, body)):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def new_session(now: float, *, account_id: str | None = None, role: str | None = None, key_id: str | None = None,
                name: str | None = None, key_hash: str | None = None) -> Session:
    return Session(nonce=secrets.token_urlsafe(16), expires=int(now) + LIFETIME_SECONDS, account_id=account_id,
                   role=role, key_id=key_id, name=name, key_hash=key_hash, begun=now)


def load(value: str | None, now: float) -> Session | None:
    payload = unsign(COOKIE, value)
    if payload is None:
        return None
    try:
        session = Session(**payload)
    except TypeError:
        return None
    if not isinstance(session.expires, int) or session.expires <= now or not session.nonce:
        return None
    return session


def dump(session: Session) -> str:
    return sign(COOKIE, asdict(session))


def csrf_token(session: Session) -> str:
    return _mac("csrf", session.nonce)


def csrf_ok(session: Session | None, token: str | None) -> bool:
    return bool(session and token) and _same(token, csrf_token(session))


def parse_cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def set_cookie(name: str, value: str, *, max_age: int, path: str = "/") -> str:
    """A Set-Cookie header value: HttpOnly and SameSite=Lax always (Lax, not Strict, so the freelancer is
    still signed in on returning from Stripe's onboarding); Secure when deployed (HTTPS)."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if deployed():
        parts.append("Secure")
    return "; ".join(parts)


def flash_value(kind: str, text: str) -> str:
    return sign(FLASH_COOKIE, {"kind": kind, "text": text})


def read_flash(value: str | None) -> tuple[str, str] | None:
    payload = unsign(FLASH_COOKIE, value)
    if not payload or not isinstance(payload.get("text"), str):
        return None
    return ("error" if payload.get("kind") == "error" else "ok"), payload["text"]
