"""List cursors: where a listing stopped, signed for that listing (its index and whose records it lists), so one
made up, edited, or taken from another listing is refused rather than read from wherever it points."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from .. import config
from ..core import errors

CURSOR_TAG_BYTES = 12


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_tag(listing: str, sort_key: str) -> str:
    secret = hashlib.sha256(b"cursors\x00" + config.api_key_pepper().encode()).digest()
    mac = hmac.new(secret, f"{listing}\n{sort_key}".encode(), hashlib.sha256).digest()
    return _b64(mac[:CURSOR_TAG_BYTES])


def encode_cursor(listing: str, sort_key: str) -> str:
    return f"{_b64(sort_key.encode())}.{_cursor_tag(listing, sort_key)}"


def decode_cursor(listing: str, cursor: str | None) -> str | None:
    if not cursor:
        return None
    body, _, tag = cursor.partition(".")
    try:
        value = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if "#" not in value or not hmac.compare_digest(tag.encode(), _cursor_tag(listing, value).encode()):
        raise errors.Invalid("cursor is not one this API handed out for this list; start again without it.",
                             code="invalid_cursor")
    return value
